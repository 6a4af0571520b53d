"""The Tokens tab: a text's pieces in colour and its counts, redrawn as it is typed.

The work is `danlu.tokens` (as `danlu tokenize`): the tab picks a model, tokenizes the
text (or the chat prompt the template makes of it) and draws each piece as a span,
every other one shaded; special tokens bold, byte pieces and pieces holding part of a
character underlined. A piece's id and kind are its tooltip.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from danlu.tokens import Tokenized, tokenize_chat, tokenize_text
from danlu.ui.context import UIContext
from danlu.ui.feedback import friendly
from danlu.ui.names import model_names

STYLE = """<style>
#tokens-view .tokens { white-space: pre-wrap; font-family: monospace; line-height: 1.9; }
#tokens-view .tok-0 { background: #dbeafe; }
#tokens-view .tok-1 { background: #fef3c7; }
#tokens-view .special { font-weight: bold; color: #a21caf; }
#tokens-view .byte { text-decoration: underline wavy #dc2626; }
#tokens-view .split { text-decoration: underline #d97706; }
</style>"""


def pieces_html(measured: Tokenized) -> str:
    """One span per piece (empty for a piece that completes no character), shaded in turn."""
    spans = []
    for i, piece in enumerate(measured.pieces):
        classes = f"tok tok-{i % 2}" + ("" if piece.kind == "text" else f" {piece.kind}")
        tip = f"{piece.id} · {piece.kind} · {piece.data.hex(' ') or 'no bytes'}"
        spans.append(
            f'<span class="{classes}" data-id="{piece.id}" title="{html.escape(tip)}">'
            f"{html.escape(piece.shown)}</span>"
        )
    return f'{STYLE}<div class="tokens">{"".join(spans)}</div>'


def counts_line(measured: Tokenized) -> str:
    first, *rest = measured.summary()
    return " · ".join([f"**{first}**", *rest])


class TokenActions:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    def show(self, name: str, text: str, chat: bool) -> tuple[str, str]:
        """The pieces and the counts of `text` for model `name`; nothing for no text."""
        if not name or not text:
            return "", ""
        if chat:  # the template needs the model itself
            with self.ctx.models.hold(name) as model:
                measured = tokenize_chat(model, text)
        else:
            measured = tokenize_text(self.ctx.vocabulary(name), text)
        return pieces_html(measured), counts_line(measured)


def build(ctx: UIContext, demo: gr.Blocks) -> None:
    """The tab's components and events (call inside `gr.Tab`)."""
    act = TokenActions(ctx)
    with gr.Row():
        model = gr.Dropdown(
            label="Model",
            value=ctx.settings.default_model,
            choices=[ctx.settings.default_model],
            elem_id="tokens-model",
        )
        chat = gr.Checkbox(label="As a chat prompt (the template's roles)", elem_id="tokens-chat")
    text = gr.Textbox(label="Text", lines=5, elem_id="tokens-input")
    counts = gr.Markdown(elem_id="tokens-count")
    view = gr.HTML(elem_id="tokens-view")
    show = friendly(act.show)
    for trigger in (text.change, model.change, chat.change):
        trigger(show, [model, text, chat], [view, counts], trigger_mode="always_last")

    def refresh() -> Any:
        return gr.update(choices=model_names(ctx.settings))

    demo.load(friendly(refresh), None, model)

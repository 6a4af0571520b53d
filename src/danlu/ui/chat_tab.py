"""The Chat tab: pick a model, talk to it, stop it, regenerate, save; or ask a knowledge base.

Answers stream through `Model.stream_chat` (a knowledge base: `KnowledgeBase.stream_ask`,
the same calls as `danlu run` and `danlu kb ask`). Stop sets this browser session's flag;
the stream is closed at its next token, which frees the slot. Saved chats are the files
`danlu run`'s /save and /load use.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import closing
from functools import partial
from typing import Any

import gradio as gr

from danlu.chat.sessions import Session, load_session, save_session
from danlu.engine.sampling import SamplingParams
from danlu.ui.context import UIContext
from danlu.ui.feedback import friendly
from danlu.ui.names import NONE, kb_names, model_names, prompt_names, session_names

Update = tuple[list[dict[str, Any]], str, str]  # chat history, speed line, sources


def text_of(content: Any) -> str:
    """A chatbot message's text (the page sends content as a list of typed parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return "".join(text_of(part) for part in content)
    return "" if content is None else str(content)


def as_messages(history: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"role": m["role"], "content": text_of(m["content"])}
        for m in history
        if m.get("role") in ("user", "assistant")
    ]


def _default(name: str) -> Any:
    return SamplingParams.model_fields[name].default


# what each control shows untouched: SamplingParams' defaults (max tokens 0 and seed -1 stand
# for its None: until the context ends, a random seed)
SLIDERS = {
    "temperature": _default("temperature"),
    "top_p": _default("top_p"),
    "top_k": _default("top_k"),
    "max_tokens": _default("max_tokens") or 0,
    "seed": -1 if _default("seed") is None else _default("seed"),
}


def sampling(temperature: float, top_p: float, top_k: int, max_tokens: int, seed: float) -> dict:
    """The controls the user moved, as `Model.params` keywords.

    A control at its default is not sent, so the model's own value holds: a Modelfile's
    PARAMETER, else SamplingParams' default (the one the control shows).
    """
    shown = {
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "max_tokens": max_tokens,
        "seed": -1 if seed is None else seed,
    }
    moved = {k: v for k, v in shown.items() if not math.isclose(v, SLIDERS[k])}
    if "seed" in moved and moved["seed"] < 0:
        del moved["seed"]  # any negative seed: random, as -1
    return {k: float(v) if k in ("temperature", "top_p") else int(v) for k, v in moved.items()}


def _with_system(system: str, messages: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, *messages] if system.strip() else messages


def _sources_md(hits: Any) -> str:
    if not hits:
        return "_No source passed the relevance floor._"
    lines = [f"**[{n}]** {h.chunk.where} — score {h.score:.3f}" for n, h in enumerate(hits, 1)]
    return "**Sources**\n\n" + "\n\n".join(lines)


def _citations_md(answer: Any) -> str:
    if answer is None or not answer.citations:
        return ""
    cited = [
        f"[{c.number}] {c.hit.chunk.where if c.hit else '(no such source)'}"
        for c in answer.citations
    ]
    return "\n\n---\n" + "\n".join(f"- {line}" for line in cited)


class ChatActions:
    """The tab's event handlers, over one UIContext."""

    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    def add_user(self, text: str, history: list[dict[str, Any]]) -> tuple[str, list]:
        if not text or not text.strip():
            # a notice, not an error: an error marks the chat red and logs a traceback
            gr.Warning("Type a message first.", duration=3, title="Empty message")
            return text, history  # nothing sent: `respond` then has nothing to answer
        return "", [*history, {"role": "user", "content": text}]

    def respond(
        self,
        history: list[dict[str, Any]],
        model: str,
        kb: str,
        system: str,
        temperature: float,
        top_p: float,
        top_k: int,
        max_tokens: int,
        seed: float,
        request: gr.Request,
    ) -> Iterator[Update]:
        messages = as_messages(history)
        if not messages or messages[-1]["role"] != "user":
            return  # no new message (an empty one was not sent): nothing to do, no error
        flag = self.ctx.stop_flag(request.session_hash or "")
        flag.clear()
        params = sampling(temperature, top_p, top_k, max_tokens, seed)
        if kb and kb != NONE:
            events = self._kb_answer(kb, model, messages[-1]["content"], params, flag)
        else:
            events = self._model_answer(model, _with_system(system, messages), params, flag)
        shown = [*history, {"role": "assistant", "content": ""}]
        for text, speed, sources in events:
            shown[-1] = {"role": "assistant", "content": text}
            yield shown, speed, sources

    def _model_answer(self, name: str, messages: list, params: dict, flag) -> Iterator[tuple]:
        text, last = "", None
        with self.ctx.models.hold(name) as model:
            stream = model.stream_chat(messages, **params)
            try:
                for chunk in stream:
                    text, last = text + chunk.text, chunk
                    if flag.is_set():
                        break
                    yield text, "", ""
            finally:
                stream.close()
        if last is not None and last.timing is not None:
            notes = "".join(f"  \nnote: {n}" for n in last.notices)
            yield text, last.timing.speed_line() + notes, ""
        else:
            yield text, "stopped", ""

    def _kb_answer(self, kb_name: str, model: str, question: str, params: dict, flag):
        sources, text, answer = "", "", None
        lend = partial(self.ctx.models.hold, model)  # held only when there are hits
        # AskOptions' k, floor and length, as `danlu kb ask`; a moved slider wins
        with (
            self.ctx.open_kb(kb_name) as kb,
            closing(kb.stream_ask(question, lend, **params)) as events,
        ):
            for event in events:  # closed on Stop, which lets go of the model at once
                if event.sources is not None:  # first, before the model is held
                    sources = _sources_md(event.sources)
                    yield "", "", sources
                text += event.text
                answer = event.answer or answer
                if flag.is_set():
                    break
                if event.text:
                    yield text, "", sources
        yield text + _citations_md(answer), "stopped" if flag.is_set() else "", sources

    def pick_prompt(self, name: str) -> tuple[Any, Any]:
        """A library prompt's system prompt (defaults filled, a needed variable shown as
        [name] to be edited) into the system box, and its suggested temperature."""
        if not name or name == NONE:
            return gr.update(), gr.update()
        from danlu.prompts import PromptLibrary

        prompt = PromptLibrary(self.ctx.settings.prompts_dir).get(name)
        system = prompt.render({v: f"[{v}]" for v in prompt.required()}).system or ""
        temperature = prompt.sampling.get("temperature")
        return system, gr.update() if temperature is None else temperature

    def stop(self, request: gr.Request) -> None:
        self.ctx.stop_flag(request.session_hash or "").set()

    def drop_answer(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Regenerate: the last answer goes; the question stays to be answered again."""
        if not history or history[-1].get("role") != "assistant":
            raise gr.Error("There is no answer to regenerate yet.")
        return history[:-1]

    def edit_last(self, history: list[dict[str, Any]]) -> tuple[str, list]:
        """Edit and resend: the last question returns to the box, it and its answer go."""
        users = [i for i, m in enumerate(history) if m.get("role") == "user"]
        if not users:
            raise gr.Error("There is no message to edit yet.")
        return text_of(history[users[-1]]["content"]), history[: users[-1]]

    def save(self, name: str, history: list, model: str, system: str, *sampled: Any) -> Any:
        session = Session(
            model=model,
            system=system.strip() or None,
            messages=as_messages(history),
            params=sampling(*sampled),
        )
        path = save_session(self.ctx.settings.sessions_dir, name.strip(), session)
        names = session_names(self.ctx.settings)
        return f"Saved {len(session.messages)} message(s) to {path}", gr.update(choices=names)

    def load(self, name: str) -> tuple[list, str, str, str]:
        if not name:
            raise gr.Error("Pick a saved chat first.")
        session = load_session(self.ctx.settings.sessions_dir, name)
        history = [{"role": m.role, "content": m.content} for m in session.messages]
        note = f"Loaded {len(history)} message(s) from '{name}'"
        return history, session.model, session.system or "", note


def build(ctx: UIContext, demo: gr.Blocks) -> None:
    """The tab's components and events (call inside `gr.Tab`)."""
    act = ChatActions(ctx)
    with gr.Row():
        model = gr.Dropdown(
            label="Model",
            value=ctx.settings.default_model,
            choices=[ctx.settings.default_model],
            elem_id="chat-model",
        )
        kb = gr.Dropdown(
            label="Knowledge base (answers with citations)",
            value=NONE,
            choices=[NONE],
            elem_id="chat-kb",
        )
    with gr.Row():
        prompt = gr.Dropdown(
            label="Prompt (danlu prompt list)",
            value=NONE,
            choices=[NONE],
            scale=1,
            elem_id="chat-prompt",
        )
        system = gr.Textbox(label="System prompt", lines=1, scale=3, elem_id="chat-system")
    with gr.Accordion("Sampling", open=False, elem_id="chat-sampling"), gr.Row():
        # untouched, each shows SamplingParams' default and is not sent (`sampling`)
        temperature = gr.Slider(
            0,
            2,
            value=SLIDERS["temperature"],
            step=0.05,
            label="Temperature",
            elem_id="chat-temperature",
        )
        top_p = gr.Slider(0.01, 1, value=SLIDERS["top_p"], step=0.01, label="Top-p")
        top_k = gr.Slider(0, 200, value=SLIDERS["top_k"], step=1, label="Top-k")
        max_tokens = gr.Slider(
            0,
            4096,
            value=SLIDERS["max_tokens"],
            step=1,
            label="Max new tokens (0: the model's own)",
            elem_id="chat-max-tokens",
        )
        seed = gr.Number(
            value=SLIDERS["seed"], precision=0, label="Seed (-1: random)", elem_id="chat-seed"
        )
    sampled = [temperature, top_p, top_k, max_tokens, seed]
    chatbot = gr.Chatbot(label="Chat", height=380, elem_id="chatbot", buttons=["copy"])
    with gr.Row():
        text = gr.Textbox(show_label=False, placeholder="Message…", scale=6, elem_id="chat-input")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
        stop = gr.Button("Stop", variant="stop", scale=1, elem_id="chat-stop")
    with gr.Row():
        regenerate = gr.Button("Regenerate", size="sm", elem_id="chat-regenerate")
        edit = gr.Button("Edit last message", size="sm", elem_id="chat-edit")
        clear = gr.Button("Clear", size="sm", elem_id="chat-clear")
    speed = gr.Markdown(elem_id="chat-speed")
    sources = gr.Markdown(elem_id="chat-sources")
    with gr.Accordion("Saved chats (the files of danlu run's /save and /load)", open=True):
        with gr.Row():
            save_name = gr.Textbox(label="Save as", elem_id="chat-save-name")
            save = gr.Button("Save", elem_id="chat-save")
            saved = gr.Dropdown(label="Saved chats", elem_id="chat-saved")
            load = gr.Button("Load", elem_id="chat-load")
        note = gr.Markdown(elem_id="chat-note")

    answer_inputs = [chatbot, model, kb, system, *sampled]
    answer_outputs = [chatbot, speed, sources]
    for trigger in (send.click, text.submit):
        trigger(friendly(act.add_user), [text, chatbot], [text, chatbot]).success(
            friendly(act.respond), answer_inputs, answer_outputs
        )
    stop.click(act.stop, None, None, queue=False)
    regenerate.click(friendly(act.drop_answer), chatbot, chatbot).success(
        friendly(act.respond), answer_inputs, answer_outputs
    )
    edit.click(friendly(act.edit_last), chatbot, [text, chatbot])
    clear.click(lambda: ([], "", ""), None, answer_outputs)
    save.click(friendly(act.save), [save_name, chatbot, model, system, *sampled], [note, saved])
    load.click(friendly(act.load), saved, [chatbot, model, system, note])
    prompt.input(friendly(act.pick_prompt), prompt, [system, temperature])

    def refresh() -> tuple[Any, Any, Any, Any]:
        return (
            gr.update(choices=model_names(ctx.settings)),
            gr.update(choices=[NONE, *kb_names(ctx.settings)]),
            gr.update(choices=session_names(ctx.settings)),
            gr.update(choices=[NONE, *prompt_names(ctx.settings)]),
        )

    demo.load(friendly(refresh), None, [model, kb, saved, prompt])

"""Examples to token ids and loss masks, through the one chat-template path.

A conversation is rendered once, whole, by `ChatTemplate.render` (what `danlu run` and
the server send the model). Each assistant turn's text is located by rendering the
conversation up to that turn twice: with the generation prompt (everything the model
is given) and with the turn itself (everything it must write). The turn is the
difference, so every assistant turn is found, not only the last, and the template's
own end-of-turn marker is inside it. Tokens are marked by their character offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from danlu.chat.messages import Message
from danlu.chat.template import ChatTemplate
from danlu.engine.transformers.tokens import encode, encode_with_offsets
from danlu.errors import InvalidRequest
from danlu.train.data.examples import ChatExample, PreferenceExample, TextExample

Span = tuple[int, int]  # [start, end) in characters of the rendered text


@dataclass(frozen=True)
class Encoded:
    """Token ids and, per token, 1 where the loss applies (an assistant's token)."""

    input_ids: list[int]
    assistant_masks: list[int]

    def labels(self) -> list[int]:
        """The ids with -100 on every token the loss ignores."""
        pairs = zip(self.input_ids, self.assistant_masks, strict=True)
        return [t if m else -100 for t, m in pairs]


class Renderer:
    """Renders examples with a model's template and tokenizer."""

    def __init__(self, template: ChatTemplate, tokenizer: Any) -> None:
        self.template = template
        self.tokenizer = tokenizer

    def _render(self, messages: list[Message], generation: bool, tools: Any = None) -> str:
        return self.template.render(messages, add_generation_prompt=generation, tools=tools)

    def assistant_spans(self, messages: list[Message]) -> tuple[str, list[Span]]:
        """The whole conversation's text and the character span of each assistant turn."""
        text = self._render(messages, generation=False)
        spans = []
        for i, turn in enumerate(messages):
            if turn.role != "assistant":
                continue
            before = self._render(messages[:i], generation=True)
            through = self._render(messages[: i + 1], generation=False)
            if not (through.startswith(before) and text.startswith(through)):
                raise InvalidRequest(
                    f"chat template '{self.template.name}' does not render a conversation "
                    f"as the sum of its turns (turn {i}), so its answers cannot be located",
                    hint="train with a named template: --template chatml",
                )
            spans.append((len(before), len(through)))
        return text, spans

    def encode_chat(self, example: ChatExample) -> Encoded:
        text, spans = self.assistant_spans(list(example.messages))
        ids, offsets = encode_with_offsets(self.tokenizer, text)
        mask = [int(_inside(start, end, spans)) for start, end in offsets]
        return Encoded(ids, mask)

    def encode_text(self, example: TextExample) -> Encoded:
        ids = encode(self.tokenizer, example.text, add_bos=True)
        eos = self.tokenizer.eos_token_id
        if eos is not None:
            ids.append(eos)  # a document ends; the model learns where
        return Encoded(ids, [1] * len(ids))

    def encode(self, example: ChatExample | TextExample) -> Encoded:
        if isinstance(example, TextExample):
            return self.encode_text(example)
        return self.encode_chat(example)

    def preference(self, example: PreferenceExample) -> dict[str, str]:
        """TRL's prompt / chosen / rejected texts: the prompt with the generation prompt,
        each answer as the template writes it after that (end-of-turn marker included)."""
        prompt = list(example.prompt)
        head = self._render(prompt, generation=True)
        out = {"prompt": head}
        for key, answer in (("chosen", example.chosen), ("rejected", example.rejected)):
            full = self._render([*prompt, Message(role="assistant", content=answer)], False)
            if not full.startswith(head):
                raise InvalidRequest(
                    f"chat template '{self.template.name}' renders the answer's turn "
                    "differently from the prompt it follows",
                    hint="train with a named template: --template chatml",
                )
            out[key] = full[len(head) :]
        return out

    def count(self, example: Any) -> int:
        """Tokens an example takes (a preference pair: the prompt with its longer answer)."""
        if isinstance(example, PreferenceExample):
            parts = self.preference(example)
            answer = max(parts["chosen"], parts["rejected"], key=len)
            return len(encode(self.tokenizer, parts["prompt"] + answer, add_bos=True))
        return len(self.encode(example).input_ids)


def _inside(start: int, end: int, spans: list[Span]) -> bool:
    """A token belongs to a turn when it starts inside it (a token that is only a BOS or
    an empty piece, start == end == 0, belongs to none)."""
    if end <= start:
        return False
    return any(a <= start < b for a, b in spans)

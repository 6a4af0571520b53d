"""DPO pairs: `prompt`, `chosen`, `rejected`; optional `system`.

The prompt is text or a list of OpenAI messages; each answer is text, or a list of
messages whose last is the assistant's answer (the layout of many hub sets).
"""

from __future__ import annotations

from typing import Any

from danlu.chat.messages import Message
from danlu.train.data.examples import (
    DataFormat,
    PreferenceExample,
    RowError,
    message,
    text_field,
)


def detect(row: dict[str, Any]) -> bool:
    return {"prompt", "chosen", "rejected"} <= row.keys()


def _prompt(row: dict[str, Any]) -> list[Message]:
    value = row.get("prompt")
    if isinstance(value, list) and value:
        turns = [message(t, f"prompt[{i}]") for i, t in enumerate(value)]
    else:
        turns = [Message(role="user", content=text_field(row, "prompt"))]
    if turns[-1].role != "user":
        raise RowError("the prompt must end with a user turn")
    system = text_field(row, "system", required=False)
    if system.strip() and turns[0].role != "system":
        turns.insert(0, Message(role="system", content=system))
    return turns


def _answer(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if isinstance(value, list) and value:
        last = value[-1]
        if not isinstance(last, dict) or last.get("role") != "assistant":
            raise RowError(f"the last turn of '{key}' must be the assistant's")
        return text_field(last, "content")
    return text_field(row, key)


def convert(row: dict[str, Any]) -> PreferenceExample:
    prompt = _prompt(row)
    chosen, rejected = _answer(row, "chosen"), _answer(row, "rejected")
    if chosen == rejected:
        raise RowError("'chosen' and 'rejected' are the same answer")
    return PreferenceExample(tuple(prompt), chosen, rejected)


FORMAT = DataFormat("dpo", "preference", "prompt / chosen / rejected", detect, convert)

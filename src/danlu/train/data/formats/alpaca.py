"""Alpaca: `instruction`, optional `input`, `output`; optional `system` and `history`.

`history` is a list of [instruction, answer] pairs that came before; each becomes a
user and an assistant turn, and the loss falls on every answer (history included).
"""

from __future__ import annotations

from typing import Any

from danlu.chat.messages import Message
from danlu.train.data.examples import ChatExample, DataFormat, RowError, text_field


def detect(row: dict[str, Any]) -> bool:
    return "instruction" in row and "output" in row


def _history(row: dict[str, Any]) -> list[Message]:
    history = row.get("history") or []
    if not isinstance(history, list):
        raise RowError("'history' must be a list of [instruction, answer] pairs")
    turns = []
    for i, pair in enumerate(history):
        ok = isinstance(pair, (list, tuple)) and len(pair) == 2
        if not ok or not all(isinstance(p, str) for p in pair):
            raise RowError(f"history[{i}] must be a pair [instruction, answer] of texts")
        turns += [Message(role="user", content=pair[0]), Message(role="assistant", content=pair[1])]
    return turns


def convert(row: dict[str, Any]) -> ChatExample:
    instruction = text_field(row, "instruction")
    extra = text_field(row, "input", required=False)
    output = text_field(row, "output")
    system = text_field(row, "system", required=False)
    prompt = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    turns = [Message(role="system", content=system)] if system.strip() else []
    turns += _history(row)
    turns += [Message(role="user", content=prompt), Message(role="assistant", content=output)]
    return ChatExample(tuple(turns))


FORMAT = DataFormat(
    "alpaca", "chat", "instruction / input / output (+ system, history)", detect, convert
)

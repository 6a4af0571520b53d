"""OpenAI messages: `messages`, a list of {"role", "content", ...}, tool calls included.

Content given as a list of parts keeps its text parts, joined; a `tools` list on the row
is kept for templates that describe tools (rendered like a chat request's `tools`).
"""

from __future__ import annotations

from typing import Any

from danlu.train.data.examples import ChatExample, DataFormat, RowError, message, needs_assistant


def detect(row: dict[str, Any]) -> bool:
    return isinstance(row.get("messages"), list)


def _content(value: Any, where: str) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, list):
        texts = [
            p.get("text", "") for p in value if isinstance(p, dict) and p.get("type") == "text"
        ]
        return "".join(texts)
    raise RowError(f"{where}: 'content' must be text or a list of parts")


def _turn(i: int, turn: Any):
    where = f"messages[{i}]"
    if not isinstance(turn, dict):
        raise RowError(f"{where} must be an object with 'role' and 'content'")
    data = {k: v for k, v in turn.items() if v is not None}
    data["content"] = _content(turn.get("content"), where)
    if "role" not in data:
        raise RowError(f"{where}: missing 'role'")
    return message(data, where)


def convert(row: dict[str, Any]) -> ChatExample:
    turns = row.get("messages")
    if not isinstance(turns, list) or not turns:
        raise RowError("missing 'messages'")
    return ChatExample(needs_assistant([_turn(i, t) for i, t in enumerate(turns)]))


FORMAT = DataFormat("messages", "chat", "OpenAI messages: [{role, content}, ...]", detect, convert)

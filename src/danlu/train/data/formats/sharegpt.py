"""ShareGPT: `conversations`, a list of {"from": ..., "value": ...} turns; optional `system`."""

from __future__ import annotations

from typing import Any

from danlu.chat.messages import Message
from danlu.train.data.examples import ChatExample, DataFormat, RowError, needs_assistant

ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
    "function_response": "tool",
}


def detect(row: dict[str, Any]) -> bool:
    return isinstance(row.get("conversations"), list)


def _turn(i: int, turn: Any) -> Message:
    if not isinstance(turn, dict):
        raise RowError(f"conversations[{i}] must be an object with 'from' and 'value'")
    speaker, value = turn.get("from"), turn.get("value")
    if speaker not in ROLES:
        known = ", ".join(sorted(ROLES))
        raise RowError(f"conversations[{i}]: unknown speaker {speaker!r} (known: {known})")
    if not isinstance(value, str):
        raise RowError(f"conversations[{i}]: missing 'value' text")
    return Message(role=ROLES[speaker], content=value)


def convert(row: dict[str, Any]) -> ChatExample:
    turns = row.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise RowError("missing 'conversations'")
    messages = [_turn(i, t) for i, t in enumerate(turns)]
    system = row.get("system")
    if isinstance(system, str) and system.strip() and messages[0].role != "system":
        messages.insert(0, Message(role="system", content=system))
    return ChatExample(needs_assistant(messages))


FORMAT = DataFormat("sharegpt", "chat", "conversations: [{from, value}, ...]", detect, convert)

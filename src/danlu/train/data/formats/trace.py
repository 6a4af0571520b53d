"""Agent traces (`danlu agent`'s JSONL): each run's `end` line is one conversation to learn.

A trace holds many lines (start, steps, calls, results, answer); only `end` carries the
whole conversation, with the tools that were offered, so the other lines are passed over.
The conversation is written as the model read it under a template that does not know
tools (as `chat/tools.prepare_tools` writes it for the loop): the tool-call format's
instructions in the system prompt, each call as the text the model wrote, each result as a
user turn. Training on it teaches the model the calls it made in that run.
"""

from __future__ import annotations

from typing import Any

from danlu.chat.tools import get_format, tool_specs
from danlu.chat.tools.formats import DEFAULT_FORMAT
from danlu.chat.tools.prepare import text_history, with_system
from danlu.errors import DanluError
from danlu.train.data.examples import ChatExample, DataFormat, RowError, message, needs_assistant


def detect(row: dict[str, Any]) -> bool:
    return row.get("type") == "start" and "tools" in row and "model" in row


def keep(row: dict[str, Any]) -> bool:
    """Only a run's `end` line is an example."""
    return row.get("type") == "end"


def convert(row: dict[str, Any]) -> ChatExample:
    turns = row.get("messages")
    if not isinstance(turns, list) or not turns:
        raise RowError("the trace's end line has no 'messages'")
    messages = [message(t, f"messages[{i}]") for i, t in enumerate(turns)]
    try:
        fmt = get_format(row.get("tool_format") or DEFAULT_FORMAT)
        tools = tool_specs(row.get("tools") or [])
        history = text_history(messages, fmt)
    except DanluError as exc:
        raise RowError(exc.message) from None
    if tools:
        history = with_system(history, fmt.instructions(tools))
    return ChatExample(needs_assistant(history))


FORMAT = DataFormat(
    "trace", "chat", "danlu agent traces: the end line of each run", detect, convert, keep
)

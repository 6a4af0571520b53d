"""What a data row becomes once its format has read it: one of three example kinds.

Every format converts a raw row (a dict) into one of these, or raises RowError saying
what is wrong with it; the line number is added by the caller that knows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from danlu.chat.messages import Message
from danlu.engine.sampling import describe_validation_error

Kind = Literal["chat", "text", "preference"]


class RowError(ValueError):
    """One row cannot be used; the message says why ("missing 'output'")."""


@dataclass(frozen=True)
class ChatExample:
    """A conversation; the loss falls on its assistant turns."""

    messages: tuple[Message, ...]


@dataclass(frozen=True)
class TextExample:
    """Plain text for continued pre-training; the loss falls on every token."""

    text: str


@dataclass(frozen=True)
class PreferenceExample:
    """A prompt (a conversation ending with a user turn) and two answers, better first."""

    prompt: tuple[Message, ...]
    chosen: str
    rejected: str


Example = ChatExample | TextExample | PreferenceExample


def preview(example: Example) -> str:
    """The example as a person reads it: one 'role: text' line a turn (a preference pair's
    two answers as 'chosen:' and 'rejected:')."""
    if isinstance(example, TextExample):
        return example.text
    if isinstance(example, ChatExample):
        turns = [(m.role, m.content) for m in example.messages]
    else:
        turns = [(m.role, m.content) for m in example.prompt]
        turns += [("chosen", example.chosen), ("rejected", example.rejected)]
    return "\n".join(f"{role}: {content}" for role, content in turns)


@dataclass(frozen=True)
class DataFormat:
    """One data layout: how to recognise a row of it and how to read one."""

    name: str
    kind: Kind
    summary: str
    detect: Callable[[dict[str, Any]], bool]
    convert: Callable[[dict[str, Any]], Example]
    # rows that are examples; None: all (a trace keeps its runs' end lines only)
    keep: Callable[[dict[str, Any]], bool] | None = None


def text_field(row: dict[str, Any], key: str, *, required: bool = True) -> str:
    """row[key] as a string; RowError if it is missing (when required) or not text."""
    value = row.get(key)
    if value is None or (isinstance(value, float) and value != value):  # NaN from CSV
        if required:
            raise RowError(f"missing '{key}'")
        return ""
    if not isinstance(value, str):
        raise RowError(f"'{key}' must be text, not {type(value).__name__}")
    if required and not value.strip():
        raise RowError(f"'{key}' is empty")
    return value


def message(data: dict[str, Any], where: str) -> Message:
    """A validated Message; RowError names the turn (`where`) and the broken field."""
    try:
        return Message.model_validate(data)
    except ValidationError as exc:
        raise RowError(f"{where}: {describe_validation_error(exc)}") from None


def needs_assistant(messages: list[Message]) -> tuple[Message, ...]:
    """The turns, refused if no assistant turn has text (there would be nothing to learn)."""
    if not any(m.role == "assistant" and (m.content or m.tool_calls) for m in messages):
        raise RowError("no assistant turn to learn from")
    return tuple(messages)

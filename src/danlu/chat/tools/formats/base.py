"""What a tool-call format is, and the tolerant JSON reading every format shares.

A format is the text convention a model uses to call a function: how the tools
are described to it, what a call looks like, how to read calls back out of the
output, and a grammar that forces one. Small models drift from the convention
(code fences, "parameters" for "arguments", arguments as a JSON string), so the
readers here accept those; anything that still is not a call stays content.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from typing import Any

from danlu.chat.tools.types import Parsed, ToolCall, ToolSpec

# Texts that may begin a bare (or fenced) JSON call at the very start of the output.
LEADING_OPENERS = ("{", "[", "```")

FENCE = re.compile(r"^```[\w-]*[ \t]*\n?(.*?)\n?[ \t]*```$", re.DOTALL)
FENCE_OPEN = re.compile(r"```[\w-]*\s*$")
CALL_KEYS = {"name", "arguments", "parameters", "id", "type"}


class ToolFormat(ABC):
    """One tool-call convention. Subclasses set `name` and `opener` and fill the four methods.

    `opener` is the text that starts a call; when `leading_only` is set it counts only
    at the start of the output (a bare JSON call), otherwise anywhere in it.
    """

    name: str = ""
    opener: str = ""
    leading_only: bool = False

    @property
    def trigger(self) -> str | None:
        """Regex that starts a lazy call grammar in 'auto' mode: free text until the opener.

        Anchored (llama.cpp then matches the whole output, not a part of it), so it fires
        only when the output ends with the opener and the grammar starts from the opener
        alone: llama.cpp hands the grammar everything from the group to the end, and text
        after the opener in the same token that the grammar refuses (`>>` closing
        `<tool_call`) makes it abort the process. Such a call is left unconstrained and
        parsed as it comes. None for bare-JSON formats, where a plain JSON answer would
        look like a call.
        """
        if self.leading_only or not self.opener:
            return None
        return rf"^[\s\S]*?({re.escape(self.opener)})$"

    @abstractmethod
    def instructions(self, tools: list[ToolSpec]) -> str:
        """System-prompt text listing `tools` and saying exactly how to call one."""

    @abstractmethod
    def render_calls(self, calls: list[ToolCall]) -> str:
        """The text the model would have written to make `calls` (for chat history)."""

    @abstractmethod
    def parse(self, text: str) -> Parsed:
        """Split model output into content and tool calls."""

    @abstractmethod
    def grammar(self, tools: list[ToolSpec], name: str | None = None) -> str:
        """GBNF forcing one call, to `name` if given, else to any of `tools`."""

    def __repr__(self) -> str:
        return f"<tool format {self.name!r}>"


def tools_json(tools: list[ToolSpec]) -> str:
    """One OpenAI tool dict per line, as the instructions show them."""
    return "\n".join(json.dumps(t.as_dict(), ensure_ascii=False) for t in tools)


def call_json(call: ToolCall) -> str:
    """`{"name": ..., "arguments": {...}}` for one call."""
    body = {"name": call.name, "arguments": call.arguments_dict()}
    return json.dumps(body, ensure_ascii=False)


def strip_fence(text: str) -> str:
    """The inside of a ``` fenced block, or `text` unchanged when it is not one."""
    stripped = text.strip()
    match = FENCE.match(stripped)
    return match.group(1).strip() if match else stripped


def loads(text: str) -> Any:
    """JSON-decode `text` leniently (raw control characters allowed); None if it is not JSON."""
    try:
        return json.loads(text, strict=False)
    except (json.JSONDecodeError, RecursionError):
        return None


def calls_from_json(value: Any) -> list[ToolCall] | None:
    """Calls from a decoded object or list of objects; None unless every item is a call."""
    items = value if isinstance(value, list) else [value]
    calls = [call_from_object(item) for item in items]
    if not calls or any(c is None for c in calls):
        return None
    return [c for c in calls if c is not None]


def call_from_object(obj: Any) -> ToolCall | None:
    """A call from `{"name", "arguments"}` (or "parameters", or OpenAI's nested "function")."""
    if isinstance(obj, dict) and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    if not set(obj) <= CALL_KEYS or not obj["name"]:
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # arguments sent as a JSON string, OpenAI-style
        args = loads(args) if args.strip() else {}
    if not isinstance(args, dict):
        return None
    return ToolCall.new(obj["name"], args)


def parse_leading_json(text: str) -> Parsed | None:
    """Calls written as bare or fenced JSON, alone or after a line of prose; else None."""
    whole = calls_from_json(loads(strip_fence(text)))
    if whole:
        return Parsed("", whole)
    start = _first_json_start(text)
    if start is None:
        return None
    try:
        value, end = json.JSONDecoder(strict=False).raw_decode(text, start)
    except (json.JSONDecodeError, RecursionError):
        return None
    calls = calls_from_json(value)
    if not calls or text[end:].strip().strip("`").strip():
        return None
    return Parsed(FENCE_OPEN.sub("", text[:start]).rstrip(), calls)


def _first_json_start(text: str) -> int | None:
    positions = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    return min(positions) if positions else None

"""Stream content while holding back anything that may turn out to be a tool call.

The server streams text deltas as they come, but a tool call must go out whole and
never as content. ToolStreamFilter releases ordinary text at once, holds text from
the point a call could be starting (a prefix of the format's opener, or a leading
`{`, `[` or code fence that could be a bare JSON call), and at `finish()` parses
what it held: calls come back as calls, and a false alarm comes back as content.
"""

from __future__ import annotations

import re

from danlu.chat.tools.formats.base import LEADING_OPENERS, ToolFormat
from danlu.chat.tools.types import Parsed

FENCE_HEAD = re.compile(r"```[\w-]*\s*")


class ToolStreamFilter:
    """Feed it text pieces; it returns what may be shown now, and the rest at `finish()`."""

    def __init__(self, fmt: ToolFormat) -> None:
        self.format = fmt
        self._held = ""
        self._started = False  # real text went out, so a leading call is ruled out
        self._capturing = False  # a call has begun: hold everything until the end

    def feed(self, text: str) -> str:
        """Add a piece of output; returns the part that is safe to stream as content."""
        self._held += text
        if self._capturing:
            return ""
        if not self._started:
            state = self._leading_state(self._held.lstrip())
            if state == "call":
                self._capturing = True
            if state != "text":
                return ""
            self._started = True
        return self._release()

    def finish(self) -> Parsed:
        """Content not yet released, and the calls found in it; the filter is then empty."""
        held, self._held = self._held, ""
        self._capturing = False
        if not held:
            return Parsed("", [])
        parsed = self.format.parse(held)
        return parsed if parsed.calls else Parsed(held, [])

    def _release(self) -> str:
        """Everything up to a (possible) opener in mid-text; holds from there on."""
        held, opener = self._held, self.format.opener
        if self.format.leading_only or not opener:
            self._held = ""
            return held
        start = held.find(opener)
        if start >= 0:
            self._capturing = True
        else:
            start = len(held) - _partial_suffix(held, opener)
        self._held = held[start:]
        return held[:start]

    def _leading_state(self, text: str) -> str:
        """ "call", "maybe" (cannot tell yet) or "text", for the start of the output."""
        if not text:
            return "maybe"
        opener = self.format.opener
        if opener in LEADING_OPENERS:  # a bare "{" is judged by its next characters
            return _json_state(text)
        if text.startswith(opener):
            return "call"
        if opener.startswith(text):
            return "maybe"
        return _json_state(text)


def _json_state(text: str) -> str:
    """Whether `text` starts like a bare or fenced JSON call object (or list of them)."""
    if any(o.startswith(text) for o in LEADING_OPENERS):
        return "maybe"
    if text.startswith("```"):
        head = FENCE_HEAD.match(text)
        rest = text[head.end() :] if head else ""
        if not rest:
            return "maybe"
        return _json_state(rest) if rest[0] in "{[" else "text"
    if text[0] not in "{[":
        return "text"
    rest = text[1:].lstrip()
    if not rest:
        return "maybe"
    wanted = '"' if text[0] == "{" else "{"
    return "call" if rest[0] == wanted else "text"


def _partial_suffix(text: str, opener: str) -> int:
    """Length of the longest end of `text` that is a proper start of `opener`."""
    for size in range(min(len(opener) - 1, len(text)), 0, -1):
        if text.endswith(opener[:size]):
            return size
    return 0

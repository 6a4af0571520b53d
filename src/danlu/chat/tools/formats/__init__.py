"""Tool-call formats by name; each lives in its own module and registers here."""

from __future__ import annotations

from danlu.chat.tools.formats.base import ToolFormat
from danlu.chat.tools.formats.hermes import HermesFormat
from danlu.chat.tools.formats.plain_json import JsonFormat
from danlu.errors import InvalidParameter

# Formats are stateless, so one shared instance of each is enough.
FORMATS: dict[str, ToolFormat] = {f.name: f for f in (HermesFormat(), JsonFormat())}

DEFAULT_FORMAT = "hermes"


def get_format(name: str) -> ToolFormat:
    """The format registered as `name`; an unknown name lists the known ones."""
    fmt = FORMATS.get(name)
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise InvalidParameter(f"unknown tool-call format '{name}'", hint=f"known: {known}")
    return fmt


__all__ = ["DEFAULT_FORMAT", "FORMATS", "HermesFormat", "JsonFormat", "ToolFormat", "get_format"]

"""Tool calling and structured output for any model, whether or not its template knows tools.

The server calls, in order: `tool_specs` and `parse_tool_choice` on the request,
`prepare_tools` for the messages, grammar and parser, then the format's `parse`
(or a `ToolStreamFilter` when streaming) on the output. `json_grammar` serves
response_format / Ollama's `format` on its own.
"""

from __future__ import annotations

from danlu.chat.tools.formats import FORMATS, ToolFormat, get_format
from danlu.chat.tools.grammar import json_grammar, tool_call_grammar
from danlu.chat.tools.prepare import Prepared, handles_tools, has_tool_history, prepare_tools
from danlu.chat.tools.stream import ToolStreamFilter
from danlu.chat.tools.types import (
    Parsed,
    ToolCall,
    ToolChoice,
    ToolSpec,
    parse_tool_choice,
    tool_specs,
)

__all__ = [
    "FORMATS",
    "Parsed",
    "Prepared",
    "ToolCall",
    "ToolChoice",
    "ToolFormat",
    "ToolSpec",
    "ToolStreamFilter",
    "get_format",
    "handles_tools",
    "has_tool_history",
    "json_grammar",
    "parse_tool_choice",
    "prepare_tools",
    "tool_call_grammar",
    "tool_specs",
]

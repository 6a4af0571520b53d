"""Bare JSON: the whole reply is `{"name": ..., "arguments": {...}}`, or a list of them.

What Llama 3.1-style templates ask for, and the simplest convention for a model
that was never taught one. Calls are recognised only at the start of the output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from danlu.chat.tools.formats.base import ToolFormat, parse_leading_json, tools_json
from danlu.chat.tools.grammar import tool_call_grammar
from danlu.chat.tools.types import Parsed, ToolCall, ToolSpec

INSTRUCTIONS = """# Tools

You can call these functions, described as JSON:
{tools}

To call a function, reply with only a JSON object, with nothing before or after it:
{{"name": <function-name>, "arguments": <args-json-object>}}
To call several functions at once, reply with a JSON list of such objects.
If no function is needed, answer normally."""


@dataclass(frozen=True, repr=False)
class JsonFormat(ToolFormat):
    """A reply that is nothing but one call object, or a list of call objects."""

    name: str = "json"
    opener: str = "{"
    leading_only: bool = True

    def instructions(self, tools: list[ToolSpec]) -> str:
        return INSTRUCTIONS.format(tools=tools_json(tools))

    def render_calls(self, calls: list[ToolCall]) -> str:
        bodies = [{"name": c.name, "arguments": c.arguments_dict()} for c in calls]
        value = bodies[0] if len(bodies) == 1 else bodies
        return json.dumps(value, ensure_ascii=False)

    def parse(self, text: str) -> Parsed:
        return parse_leading_json(text) or Parsed(text, [])

    def grammar(self, tools: list[ToolSpec], name: str | None = None) -> str:
        return tool_call_grammar(tools, name)

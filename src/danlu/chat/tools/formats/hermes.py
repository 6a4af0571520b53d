"""Hermes / Qwen style: each call is a JSON object inside <tool_call></tool_call> tags.

The most widely trained convention among open models (Hermes 2 Pro, Qwen 2.5,
many fine-tunes), and the default for templates that know nothing of tools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from danlu.chat.tools.formats.base import (
    ToolFormat,
    call_json,
    calls_from_json,
    loads,
    parse_leading_json,
    strip_fence,
    tools_json,
)
from danlu.chat.tools.grammar import tool_call_grammar
from danlu.chat.tools.types import Parsed, ToolCall, ToolSpec

OPEN, CLOSE = "<tool_call>", "</tool_call>"
# A call whose closing tag never came (max_tokens, a stop string) still counts.
BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)

INSTRUCTIONS = """# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tools}
</tools>

For each function call, return a json object with function name and arguments \
within <tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""


@dataclass(frozen=True, repr=False)
class HermesFormat(ToolFormat):
    """`<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`, one block per call."""

    name: str = "hermes"
    opener: str = OPEN
    leading_only: bool = False

    def instructions(self, tools: list[ToolSpec]) -> str:
        return INSTRUCTIONS.format(tools=tools_json(tools))

    def render_calls(self, calls: list[ToolCall]) -> str:
        return "\n".join(f"{OPEN}\n{call_json(c)}\n{CLOSE}" for c in calls)

    def parse(self, text: str) -> Parsed:
        calls: list[ToolCall] = []
        kept, pos = [], 0
        for match in BLOCK.finditer(text):
            found = calls_from_json(loads(strip_fence(match.group(1))))
            if found is None:  # malformed: leave the block in the content
                continue
            kept.append(text[pos : match.start()])
            pos = match.end()
            calls += found
        if calls:
            kept.append(text[pos:])
            return Parsed("".join(kept).strip(), calls)
        # Small models often drop the tags and write the bare JSON object.
        return parse_leading_json(text) or Parsed(text, [])

    def grammar(self, tools: list[ToolSpec], name: str | None = None) -> str:
        return tool_call_grammar(tools, name, before=f"{OPEN}\n", after=f"\n{CLOSE}")

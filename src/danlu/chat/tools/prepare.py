"""Get a conversation with tools ready for a chat template, whatever the template knows.

A template that mentions `tools` renders them itself; we only pass the tool dicts
and put call arguments in the shape Hugging Face templates expect. A template that
does not (plain ChatML, Llama 2, ...) gets the format's instructions in its system
prompt, and the tool history rewritten into text it can show: earlier calls as the
model would have written them, tool results as user turns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from danlu.chat.messages import Message
from danlu.chat.template import ChatTemplate
from danlu.chat.tools.formats import DEFAULT_FORMAT, ToolFormat, get_format
from danlu.chat.tools.types import ToolCall, ToolChoice, ToolSpec

MENTIONS_TOOLS = re.compile(r"\btools\b")


@dataclass(frozen=True)
class Prepared:
    """What to render and how to read the answer.

    `template_tools` goes to `ChatTemplate.render(tools=...)` (None when the tools
    were written into the system prompt instead); `grammar` forces a call when the
    choice demands one, and in 'auto' mode shapes a call once the model starts one
    (`grammar_trigger` set: a lazy grammar); `format` parses the output (None when
    tools are off).
    """

    messages: list[Message]
    template_tools: list[dict[str, Any]] | None
    grammar: str | None
    format: ToolFormat | None
    grammar_trigger: str | None = None

    def sampling(self, response_grammar: str | None) -> dict[str, str | None]:
        """`grammar` and `grammar_trigger` for the sampler; a response format's grammar
        (JSON mode) wins over a lazy call grammar, a forced call wins over both."""
        if self.grammar is None or (self.grammar_trigger and response_grammar):
            return {"grammar": response_grammar, "grammar_trigger": None}
        return {"grammar": self.grammar, "grammar_trigger": self.grammar_trigger}


def handles_tools(template: ChatTemplate) -> bool:
    """True when the template renders a `tools` list itself."""
    return bool(MENTIONS_TOOLS.search(template.source))


def default_format(template: ChatTemplate) -> str:
    """Hermes tags unless the template handles tools without them (then bare JSON)."""
    if handles_tools(template) and "<tool_call>" not in template.source:
        return "json"
    return DEFAULT_FORMAT


def has_tool_history(messages: list[Message]) -> bool:
    """True when earlier turns hold tool calls or results, which need rewriting for
    the template even when this request offers no tools."""
    return any(m.tool_calls or m.role == "tool" for m in messages)


def prepare_tools(
    template: ChatTemplate,
    messages: list[Message],
    tools: list[ToolSpec],
    choice: ToolChoice,
    fmt_name: str | None = None,
) -> Prepared:
    """Messages, template tools, grammar and parser for a chat request with `tools`.

    `fmt_name` picks the tool-call format; None picks one that suits the template.
    """
    fmt = get_format(fmt_name or default_format(template))
    native = handles_tools(template)
    history = native_history(messages) if native else text_history(messages, fmt)
    if choice.mode == "none" or not tools:
        return Prepared(history, None, None, None)
    trigger = None if choice.forced else fmt.trigger
    grammar = fmt.grammar(tools, choice.name) if choice.forced or trigger else None
    if native:
        return Prepared(history, [t.as_dict() for t in tools], grammar, fmt, trigger)
    system = "\n\n".join(filter(None, [fmt.instructions(tools), _choice_text(choice)]))
    return Prepared(with_system(history, system), None, grammar, fmt, trigger)


def _choice_text(choice: ToolChoice) -> str:
    if choice.mode == "function":
        return f"Call the function {choice.name} now."
    if choice.mode == "required":
        return "Call one of these functions now."
    return ""


def with_system(messages: list[Message], text: str) -> list[Message]:
    """`text` after the caller's own system prompt, or as a new one when there is none."""
    if messages and messages[0].role == "system":
        first = messages[0]
        merged = f"{first.content}\n\n{text}" if first.content.strip() else text
        return [first.model_copy(update={"content": merged}), *messages[1:]]
    return [Message(role="system", content=text), *messages]


# -- history for templates that know tools ---------------------------------------------------


def native_history(messages: list[Message]) -> list[Message]:
    """Call arguments as objects (what HF templates `tojson`) and tool results named."""
    names = _names_by_id(messages)
    out = []
    for m in messages:
        if m.tool_calls:
            calls = tuple(_template_call(ToolCall.from_dict(c)) for c in m.tool_calls)
            m = m.model_copy(update={"tool_calls": calls})
        elif m.role == "tool" and not m.name:
            m = m.model_copy(update={"name": names.get(m.tool_call_id or "")})
        out.append(m)
    return out


def _template_call(call: ToolCall) -> dict[str, Any]:
    fn = {"name": call.name, "arguments": call.arguments_dict()}
    return {"id": call.id, "type": "function", "function": fn}


def _names_by_id(messages: list[Message]) -> dict[str, str]:
    """Function name of every earlier call, by call id, to label the tool results."""
    names = {}
    for m in messages:
        for raw in m.tool_calls or ():
            call = ToolCall.from_dict(raw)
            names[call.id] = call.name
    return names


# -- history for templates that do not --------------------------------------------------------


def text_history(messages: list[Message], fmt: ToolFormat) -> list[Message]:
    """Calls as the text the model would have written; results as user turns.

    Consecutive results (and a user turn right after them) merge into one user turn,
    so templates that insist on alternating roles still render.
    """
    names = _names_by_id(messages)
    out: list[Message] = []
    merging = False  # the last message in `out` is a user turn built from tool results
    for m in messages:
        if m.role == "tool":
            m, merge = Message(role="user", content=_result_text(m, names)), merging
            merging = True
        else:
            merge, merging = merging and m.role == "user", False
            m = _call_text(m, fmt) if m.tool_calls else m
        if merge:
            out[-1] = _joined(out[-1], m.content)
        else:
            out.append(m)
    return out


def _result_text(message: Message, names: dict[str, str]) -> str:
    name = message.name or names.get(message.tool_call_id or "") or "tool"
    return f"Tool result ({name}): {message.content}"


def _call_text(message: Message, fmt: ToolFormat) -> Message:
    calls = [ToolCall.from_dict(c) for c in message.tool_calls or ()]
    text = fmt.render_calls(calls)
    content = f"{message.content}\n{text}" if message.content.strip() else text
    return Message(role="assistant", content=content, name=message.name)


def _joined(message: Message, text: str) -> Message:
    return message.model_copy(update={"content": f"{message.content}\n\n{text}"})

"""The shapes tool calling speaks: tool specs, parsed calls, and the caller's tool_choice.

OpenAI and Ollama describe a tool the same way
(`{"type": "function", "function": {"name", "description", "parameters"}}`), so one
ToolSpec serves both; a ToolCall renders itself in either API's response shape.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from danlu.errors import InvalidRequest

ChoiceMode = Literal["auto", "none", "required", "function"]

# A function with no `parameters` takes none, as OpenAI documents.
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}

TOOL_SHAPE_HINT = 'use {"type": "function", "function": {"name": ..., "parameters": {...}}}'


@dataclass(frozen=True)
class ToolSpec:
    """One callable function: its name, what it does, and a JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: dict(EMPTY_PARAMETERS))

    @classmethod
    def from_dict(cls, raw: Any) -> ToolSpec:
        """Build from an OpenAI/Ollama tool dict; a flat `{"name", "parameters"}` also works."""
        if not isinstance(raw, dict):
            raise InvalidRequest("a tool must be an object", hint=TOOL_SHAPE_HINT)
        if raw.get("type", "function") != "function":
            raise InvalidRequest(
                f"tool type '{raw.get('type')}' is not supported", hint="only 'function' tools"
            )
        fn = raw.get("function", raw)
        if not isinstance(fn, dict):
            raise InvalidRequest("a tool's 'function' must be an object", hint=TOOL_SHAPE_HINT)
        return cls(
            name=_tool_name(fn.get("name")),
            description=_description(fn.get("description")),
            parameters=_parameters(fn.get("parameters")),
        )

    def as_dict(self) -> dict[str, Any]:
        """The OpenAI tool dict, as chat templates and tool instructions show it."""
        fn = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": fn}


def _tool_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("every tool needs a non-empty 'name'", hint=TOOL_SHAPE_HINT)
    return value


def _description(value: Any) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidRequest("a tool's 'description' must be a string")
    return value or ""


def _parameters(value: Any) -> dict[str, Any]:
    if value is None:
        return dict(EMPTY_PARAMETERS)
    if not isinstance(value, dict):
        raise InvalidRequest(
            "a tool's 'parameters' must be a JSON schema object", hint=TOOL_SHAPE_HINT
        )
    return value


def tool_specs(raw: list[Any] | None) -> list[ToolSpec]:
    """Validate a request's `tools` list; duplicate names are refused."""
    specs: list[ToolSpec] = []
    for i, item in enumerate(raw or []):
        try:
            specs.append(ToolSpec.from_dict(item))
        except InvalidRequest as exc:
            raise InvalidRequest(f"tools[{i}]: {exc.message}", hint=exc.hint) from None
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidRequest(f"tool names must be unique; repeated: {', '.join(dupes)}")
    return specs


@dataclass(frozen=True)
class ToolCall:
    """A call the model made: `arguments` is a JSON string, as OpenAI sends it."""

    id: str
    name: str
    arguments: str

    @classmethod
    def new(cls, name: str, arguments: dict[str, Any] | str) -> ToolCall:
        """A call with a fresh `call_<12 hex>` id; dict arguments are serialised."""
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        return cls(id=f"call_{secrets.token_hex(6)}", name=name, arguments=arguments)

    @classmethod
    def from_dict(cls, raw: Any) -> ToolCall:
        """A call from a history message: OpenAI (arguments string) or Ollama (object) shape."""
        fn = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise InvalidRequest(
                "an assistant tool_call needs a 'function' with a 'name'",
                hint='use {"id": ..., "type": "function", "function": {"name", "arguments"}}',
            )
        args = fn.get("arguments") or {}
        if not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        call_id = raw.get("id")
        if isinstance(call_id, str) and call_id:
            return cls(id=call_id, name=fn["name"], arguments=args)
        return cls.new(fn["name"], args)

    def arguments_dict(self) -> dict[str, Any]:
        """The arguments decoded; anything but a JSON object reads as {}."""
        try:
            value = json.loads(self.arguments)
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    def as_openai(self) -> dict[str, Any]:
        fn = {"name": self.name, "arguments": self.arguments}
        return {"id": self.id, "type": "function", "function": fn}

    def as_ollama(self) -> dict[str, Any]:
        # Ollama sends arguments as an object, not a string.
        return {"function": {"name": self.name, "arguments": self.arguments_dict()}}


@dataclass(frozen=True)
class Parsed:
    """Model output split into ordinary text and the tool calls found in it."""

    content: str
    calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True)
class ToolChoice:
    """How the model may use tools: `name` is set only when mode is "function"."""

    mode: ChoiceMode = "auto"
    name: str | None = None

    @property
    def forced(self) -> bool:
        """True when the model must call a tool (so a grammar can enforce it)."""
        return self.mode in ("required", "function")


CHOICE_HINT = 'use "auto", "none", "required" or {"type": "function", "function": {"name": ...}}'


def parse_tool_choice(value: Any, tools: list[ToolSpec]) -> ToolChoice:
    """Read OpenAI's `tool_choice` (None means "auto"); a name not in `tools` is refused."""
    if value is None:
        return ToolChoice("auto")
    if isinstance(value, str):
        return _choice_from_string(value, tools)
    if isinstance(value, dict):
        return _choice_from_dict(value, tools)
    raise InvalidRequest("tool_choice must be a string or an object", hint=CHOICE_HINT)


def _choice_from_string(value: str, tools: list[ToolSpec]) -> ToolChoice:
    if value not in ("auto", "none", "required"):
        raise InvalidRequest(f"unknown tool_choice '{value}'", hint=CHOICE_HINT)
    if value == "required" and not tools:
        raise InvalidRequest("tool_choice 'required' needs at least one tool in 'tools'")
    return ToolChoice(value)  # type: ignore[arg-type]


def _choice_from_dict(value: dict[str, Any], tools: list[ToolSpec]) -> ToolChoice:
    if value.get("type", "function") != "function":
        raise InvalidRequest(f"unknown tool_choice type '{value.get('type')}'", hint=CHOICE_HINT)
    fn = value.get("function", value)  # the Responses API puts "name" at the top level
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str) or not name:
        raise InvalidRequest("tool_choice names no function", hint=CHOICE_HINT)
    known = [t.name for t in tools]
    if name not in known:
        listed = ", ".join(known) or "none given"
        raise InvalidRequest(
            f"tool_choice names function '{name}', which is not in 'tools'",
            hint=f"tools: {listed}",
        )
    return ToolChoice("function", name)

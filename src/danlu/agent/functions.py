"""Python functions as tools: the signature and docstring become the JSON schema.

Types come from the annotations (str, int, float, bool, list[...], dict, Literal[...],
Optional[...]); a parameter without a default is required. The docstring's first
paragraph is the description, and its "Args:" (Google) or "Parameters" (numpy) section
describes each parameter. `module:function` names one for the CLI's `--tool`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

from danlu.agent.tools import DEFAULT_TIMEOUT, Tool
from danlu.chat.tools.types import ToolSpec
from danlu.errors import InvalidParameter

SPEC_HINT = "give --tool as module:function, e.g. mytools:get_weather"
SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object"}
SECTION = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:?\s*$", re.IGNORECASE)
NUMPY_RULE = re.compile(r"^\s*-{3,}\s*$")
# "name (type): text" or "name: text" (Google); "name : type" (numpy, text on next lines)
GOOGLE_ARG = re.compile(r"^\s*(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
NUMPY_ARG = re.compile(r"^\s*(\w+)\s*:\s*(.*)$")


def function_tool(fn: Callable[..., Any], *, timeout: float = DEFAULT_TIMEOUT) -> Tool:
    """A Tool that calls `fn(**arguments)`; what it returns becomes text (JSON if not a str)."""
    if not callable(fn):
        raise InvalidParameter(f"{fn!r} is not a function")
    spec = function_spec(fn)

    def run(arguments: dict[str, Any]) -> str:
        return as_text(fn(**arguments))

    return Tool(spec, run, timeout, "python")


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def function_spec(fn: Callable[..., Any]) -> ToolSpec:
    """The ToolSpec of `fn`: its name, its docstring's summary, a schema of its parameters."""
    summary, described = parse_docstring(inspect.getdoc(fn) or "")
    hints = _hints(fn)
    properties: dict[str, Any] = {}
    required = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        schema = type_schema(hints.get(param.name, param.annotation))
        if param.name in described:
            schema["description"] = described[param.name]
        properties[param.name] = schema
        if param.default is param.empty:
            required.append(param.name)
    parameters = {"type": "object", "properties": properties, "required": required}
    return ToolSpec(fn.__name__, summary, parameters)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # a forward reference that does not resolve: fall back to no types
        return {}


def type_schema(annotation: Any) -> dict[str, Any]:
    """The JSON schema of one annotation; anything unknown (or none) allows any value."""
    if annotation in SIMPLE:
        return {"type": SIMPLE[annotation]}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        return type_schema(kept[0]) if len(kept) == 1 else {"anyOf": [type_schema(a) for a in kept]}
    if origin in (list, tuple, set, frozenset):
        item = type_schema(args[0]) if args else {}
        return {"type": "array", "items": item} if item else {"type": "array"}
    if origin is dict or annotation is list:
        return {"type": "object"} if origin is dict else {"type": "array"}
    return {}


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(summary, {parameter: description}) from a Google- or numpy-style docstring."""
    lines = doc.splitlines()
    start = next((i for i, line in enumerate(lines) if SECTION.match(line)), len(lines))
    summary = " ".join(_first_paragraph(lines[:start]))
    body = lines[start + 1 :]
    if body and NUMPY_RULE.match(body[0]):
        return summary, _numpy_args(body[1:])
    return summary, _google_args(body)


def _first_paragraph(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        if not line.strip():
            if out:
                break
            continue
        out.append(line.strip())
    return out


def _google_args(lines: list[str]) -> dict[str, str]:
    described: dict[str, str] = {}
    indent, current = None, None
    for line in lines:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent:
            break  # the next section ("Returns:") begins
        match = GOOGLE_ARG.match(line)
        if depth == indent and match:
            current = match.group(1)
            described[current] = match.group(3).strip()
        elif current is not None:
            described[current] = f"{described[current]} {line.strip()}".strip()
    return described


def _numpy_args(lines: list[str]) -> dict[str, str]:
    described: dict[str, str] = {}
    current = None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and NUMPY_RULE.match(lines[i + 1]):
            break  # the next section's title
        if line.strip() and not line.startswith((" ", "\t")):
            match = NUMPY_ARG.match(line)
            current = match.group(1) if match else line.strip()
            described[current] = ""
        elif line.strip() and current is not None:
            described[current] = f"{described[current]} {line.strip()}".strip()
    return described


def import_function(spec: str) -> Callable[..., Any]:
    """The function `module:function` names (a dotted module; the current folder is searched)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidParameter(f"'{spec}' is not a module:function tool", hint=SPEC_HINT)
    if os.getcwd() not in sys.path:  # as `python -m` and uvicorn do: the current folder first
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidParameter(f"cannot import {module_name}: {exc}", hint=SPEC_HINT) from None
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise InvalidParameter(f"{module_name} has no function {attr}", hint=SPEC_HINT)
    if not callable(target):
        raise InvalidParameter(f"{spec} is not a function", hint=SPEC_HINT)
    return target

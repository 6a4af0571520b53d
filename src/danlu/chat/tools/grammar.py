"""GBNF grammars for JSON output: JSON mode, JSON schemas, and forced tool calls.

llama.cpp's own JSON-schema converter (shipped in llama-cpp-python) writes the rules.
Its whitespace rule is a single optional space, so a small model cannot run away
emitting blanks between tokens; we tighten its string characters to valid JSON and
escape literals as upstream llama.cpp does. A schema is measured against
`GrammarLimits` before it is converted (limits.py), and the grammar while it is written.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from llama_cpp.llama_grammar import SchemaConverter

from danlu.chat.tools.limits import DEFAULT_LIMITS, GrammarLimits, check_schemas, too_much
from danlu.chat.tools.types import ToolSpec
from danlu.errors import InvalidParameter

ANY_OBJECT: dict[str, Any] = {"type": "object"}

# The converter lets raw control characters (a bare newline) into strings, which
# json.loads rejects; this is the same rule with them excluded, as in llama.cpp's json.gbnf.
STRICT_CHAR = (
    r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] '
    r"[0-9a-fA-F] [0-9a-fA-F])"
)
GBNF_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
LITERAL_ESCAPE = re.compile(r'[\r\n"\\]')
CHAR_RULE = re.compile(r"^char ::= .*$", re.MULTILINE)

REF_HINT = "only local refs such as #/$defs/name are supported"
SCHEMA_HINT = "give a JSON schema object (type, properties, required, items, enum, ...)"


class Converter(SchemaConverter):
    """llama-cpp-python's converter, with two changes.

    Literals are escaped as upstream llama.cpp escapes them: this copy leaves a backslash
    bare, so a const, enum value or property name holding `"` or `\\` ends its literal
    early (llama.cpp cannot parse the grammar) or matches other text (a `\\n` in a value
    becomes a raw newline). And every rule is counted as it is added, so a grammar that
    outgrows `limits.max_grammar_chars` stops there instead of being written in full.
    """

    def __init__(self, limits: GrammarLimits) -> None:
        super().__init__(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
        self._limits = limits
        self._sizes: dict[str, int] = {}  # each rule's length, as it stands
        self._chars = 0  # their sum: the grammar's size so far

    def _format_literal(self, literal: str) -> str:
        return '"' + LITERAL_ESCAPE.sub(lambda m: GBNF_ESCAPES[m.group(0)], literal) + '"'

    def _add_rule(self, name: str, rule: str) -> str:
        key = super()._add_rule(name, rule)  # the same rule again replaces itself
        size = len(key) + len(rule)
        self._chars += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        if self._chars > self._limits.max_grammar_chars:
            raise too_much("the grammar written from it", self._limits, "max_grammar_chars")
        return key


def json_grammar(schema: dict[str, Any] | None, limits: GrammarLimits = DEFAULT_LIMITS) -> str:
    """GBNF for any JSON object (schema None) or for values matching a JSON schema."""
    converter = Converter(limits)
    if schema is not None:
        check_schemas([schema], limits)
    target = ANY_OBJECT if schema is None else _resolved(converter, schema, "schema")
    _visit(converter, target, "")
    return _format(converter)


def call_schema(tools: list[ToolSpec], name: str | None = None) -> dict[str, Any]:
    """The JSON schema of one call `{"name": ..., "arguments": {...}}` to `name` or any tool."""
    chosen = [t for t in tools if name is None or t.name == name]
    if not chosen:
        raise InvalidParameter(f"no tool named '{name}' to call", hint="check tool_choice")
    alternatives = [_one_call(t) for t in chosen]
    return alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}


def tool_call_grammar(
    tools: list[ToolSpec],
    name: str | None = None,
    *,
    before: str = "",
    after: str = "",
    limits: GrammarLimits = DEFAULT_LIMITS,
) -> str:
    """GBNF forcing exactly one call, wrapped in the literal texts `before` and `after`."""
    converter = Converter(limits)
    check_schemas([t.parameters for t in tools], limits, names=[t.name for t in tools])
    # Each tool's "#/..." refs point into its own parameters, so resolve them one by one.
    resolved = [
        ToolSpec(t.name, t.description, _resolved(converter, t.parameters, f"tool-{i}"))
        for i, t in enumerate(tools)
    ]
    call = _visit(converter, call_schema(resolved, name), "call")
    parts = [_literal(before), call, _literal(after)]
    root = " ".join(p for p in parts if p)
    return f"root ::= {root}\n{_format(converter)}"


def _one_call(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"const": tool.name}, "arguments": tool.parameters},
        "required": ["name", "arguments"],
    }


def _resolved(converter: SchemaConverter, schema: Any, url: str) -> dict[str, Any]:
    """A deep copy of `schema` with its local $refs registered (the converter edits it)."""
    if not isinstance(schema, dict):
        raise InvalidParameter("a JSON schema must be an object", hint=SCHEMA_HINT)
    try:
        return converter.resolve_refs(copy.deepcopy(schema), url)
    except Exception as exc:  # the converter signals bad input with asserts and lookups
        detail = "remote refs are not fetched" if "remote" in str(exc) else exc
        raise InvalidParameter(
            _describe("cannot resolve the schema's $ref", detail), hint=REF_HINT
        ) from None


def _visit(converter: SchemaConverter, schema: dict[str, Any], name: str) -> str:
    try:
        return converter.visit(schema, name)
    except InvalidParameter:  # a limit reached while writing
        raise
    except Exception as exc:  # AssertionError, KeyError, re.error, ... all mean "unsupported"
        raise InvalidParameter(
            _describe("unsupported JSON schema", exc), hint=SCHEMA_HINT
        ) from None


def _format(converter: SchemaConverter) -> str:
    return CHAR_RULE.sub(lambda _: STRICT_CHAR, converter.format_grammar()) + "\n"


def _literal(text: str) -> str:
    """`text` as a GBNF string literal ("" when empty)."""
    if not text:
        return ""
    return '"' + "".join(_gbnf_char(c) for c in text) + '"'


def _gbnf_char(c: str) -> str:
    if c in GBNF_ESCAPES:
        return GBNF_ESCAPES[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x20 else c


def _describe(prefix: str, exc: object) -> str:
    detail = " ".join(str(exc).split())[:160]
    return f"{prefix}: {detail}" if detail else prefix

"""What a JSON schema may ask of the grammar written from it, checked before it is written.

llama-cpp-python's converter writes one copy of a rule per repetition (`minLength: 1e9` is
a billion copies: gigabytes before llama.cpp sees any of it), and llama.cpp's grammar
sampler follows every alternative still open, for every token of the vocabulary, on the
thread that decodes for every request. So a schema is measured first, and one beyond a
limit is an InvalidParameter (a 400) that names the limit; the grammar is measured again
while it is written (`GrammarLimits.max_grammar_chars`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from danlu.errors import InvalidParameter

LIMIT_HINT = "ask for less: one request's grammar may not exhaust memory or slow the others"

# keywords whose number becomes that many copies of a rule (the *Properties and *Contains
# ones are not expanded by today's converter; bounded all the same, for the one that will)
REPEAT_KEYS = (
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minContains",
    "maxContains",
)
CHOICE_KEYS = ("enum", "anyOf", "oneOf")  # lists whose members are alternatives
# a regex quantifier {m}, {m,}, {m,n} or {,n}, as the converter reads one
QUANTIFIER = re.compile(r"\{\s*(\d*)\s*(?:,\s*(\d*)\s*)?\}")


class GrammarLimits(BaseModel):
    """How much grammar one schema (or one request's tools) may ask for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_schema_chars: int = Field(
        65_536,
        ge=1,
        description="The schema (for tools: their names and parameters together) as compact "
        "JSON. Writing the grammar takes time in proportion.",
    )
    max_depth: int = Field(
        32,
        ge=1,
        description="How deeply objects and arrays nest in the schema's JSON (a property's "
        "schema is two levels below its object's: the 'properties' map, then the schema).",
    )
    max_repeat: int = Field(
        1_000,
        ge=1,
        description="minLength, maxLength, minItems, maxItems, minProperties, "
        "maxProperties, minContains, maxContains, and a pattern's {m,n}: each one is "
        "written out as that many copies of a rule.",
    )
    max_choices: int = Field(
        256,
        ge=1,
        description="enum values, const, anyOf/oneOf branches, type lists and tools, summed "
        "over the schema: the sampler follows every one still open at each token, for "
        "every token of the vocabulary (1,000 values cost ~5x a plain token's time).",
    )
    max_properties: int = Field(
        256,
        ge=1,
        description="Properties of one object: writing the rules for optional ones takes "
        "time that grows with the square of their number.",
    )
    max_grammar_chars: int = Field(
        262_144,
        ge=1,
        description="The GBNF written from the schema, counted while it is written, so a "
        "schema within the other limits that still grows a large grammar stops early.",
    )


DEFAULT_LIMITS = GrammarLimits()


def too_much(what: str, limits: GrammarLimits, field: str) -> InvalidParameter:
    """The 400 for a schema beyond one limit: `what` is over it, named by its field."""
    limit = getattr(limits, field)
    return InvalidParameter(
        f"the JSON schema is too large for a grammar: {what} is over the limit of "
        f"{limit} ({field})",
        hint=LIMIT_HINT,
    )


@dataclass
class _Tally:
    """What the walk has counted so far across every schema it was given."""

    limits: GrammarLimits
    choices: int = 0

    def add_choices(self, count: int, where: str) -> None:
        self.choices += count
        if self.choices > self.limits.max_choices:
            what = f"the number of alternatives (enum values, anyOf branches, ...; at '{where}')"
            raise too_much(what, self.limits, "max_choices")


def check_schemas(
    schemas: Iterable[Any], limits: GrammarLimits = DEFAULT_LIMITS, *, names: Iterable[str] = ()
) -> None:
    """Refuse schemas beyond `limits` with InvalidParameter naming the limit.

    Several schemas (a request's tools' parameters, with the tools' `names`) count together.
    """
    schemas, names = list(schemas), list(names)
    tally = _Tally(limits)
    if len(schemas) > 1:
        tally.add_choices(len(schemas), "tools")  # one alternative per tool
    for schema in schemas:
        _walk(schema, tally)
    size = len(json.dumps([schemas, names], separators=(",", ":")))
    if size > limits.max_schema_chars:
        raise too_much(f"its JSON size, {size} characters,", limits, "max_schema_chars")


def _walk(schema: Any, tally: _Tally) -> None:
    """Every dict and list in `schema`, depth first; iterative, so no depth overflows it."""
    limits = tally.limits
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_depth:
            raise too_much("its nesting depth", limits, "max_depth")
        if isinstance(node, dict):
            _check_keywords(node, tally)
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)


def _check_keywords(node: dict[str, Any], tally: _Tally) -> None:
    """The keywords of one (sub)schema that grow the grammar. A key read as a keyword may
    be a property's name instead: then it is only counted too strictly, never too loosely."""
    limits = tally.limits
    for key in REPEAT_KEYS:
        if key in node:
            _check_repeat(key, node[key], limits)
    if isinstance(node.get("pattern"), str):
        _check_pattern(node["pattern"], limits)
    properties = node.get("properties")
    if isinstance(properties, dict) and len(properties) > limits.max_properties:
        what = f"the number of properties of one object, {len(properties)},"
        raise too_much(what, limits, "max_properties")
    for key in CHOICE_KEYS:
        if isinstance(node.get(key), list):
            if not node[key]:
                raise InvalidParameter(
                    f"the JSON schema has an empty '{key}': no value can match it",
                    hint=f"list at least one value in '{key}', or leave it out",
                )
            tally.add_choices(len(node[key]), key)
    if "const" in node:
        tally.add_choices(1, "const")
    if isinstance(node.get("type"), list):
        tally.add_choices(len(node["type"]), "type")


def _check_repeat(key: str, value: Any, limits: GrammarLimits) -> None:
    """A repetition bound must be a whole number from 0 to max_repeat."""
    number = value if isinstance(value, int | float) else None
    if number is None or not math.isfinite(number) or number != int(number) or number < 0:
        raise InvalidParameter(
            f"the JSON schema's {key} is {value!r}: it must be a whole number from 0 up",
            hint="give a count such as 10",
        )
    if number > limits.max_repeat:
        raise too_much(f"{key} {value}", limits, "max_repeat")


def _check_pattern(pattern: str, limits: GrammarLimits) -> None:
    """Each {m,n} quantifier in a pattern is at most max_repeat (a literal '{5}' counts too:
    reading it too strictly refuses an odd pattern, never lets a large one through)."""
    for found in QUANTIFIER.finditer(pattern):
        for digits in found.groups():
            # compared as text first: a 5,000-digit count is not worth converting
            if digits and (len(digits) > 9 or int(digits) > limits.max_repeat):
                what = f"the quantifier {found.group(0)[:20]} in pattern {pattern[:40]!r}"
                raise too_much(what, limits, "max_repeat")

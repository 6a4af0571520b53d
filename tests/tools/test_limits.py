"""GrammarLimits: what one JSON schema (or one request's tools) may ask of a grammar, refused
before it is converted with the limit named; and literals that hold quotes or backslashes."""

from __future__ import annotations

import json

import pytest

from danlu.chat.tools import ToolSpec, json_grammar, tool_call_grammar
from danlu.chat.tools.limits import DEFAULT_LIMITS, GrammarLimits
from danlu.errors import InvalidParameter


def nested(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


BEYOND = [
    ({"type": "string", "minLength": 10**9}, "max_repeat"),
    ({"type": "string", "maxLength": 1001}, "max_repeat"),
    ({"type": "array", "items": {}, "minItems": 10**5}, "max_repeat"),
    ({"type": "string", "pattern": "^(ab){2,1000000}$"}, "max_repeat"),
    ({"enum": list(range(257))}, "max_choices"),
    ({"anyOf": [{"enum": list(range(200))}, {"enum": list(range(57))}]}, "max_choices"),
    (nested(16), "max_depth"),
    ({"type": "object", "properties": {f"p{i}": {} for i in range(257)}}, "max_properties"),
    ({"const": "x" * 70_000}, "max_schema_chars"),
    (
        {
            "type": "object",
            "properties": {f"p{i}": {"maxLength": 1000, "type": "string"} for i in range(40)},
        },
        "max_grammar_chars",
    ),
]


@pytest.mark.parametrize(
    ("schema", "limit"), BEYOND, ids=[f"{i}-{b[1]}" for i, b in enumerate(BEYOND)]
)
def test_a_schema_beyond_a_limit_is_refused_naming_it(schema, limit):
    with pytest.raises(InvalidParameter, match=rf"\({limit}\)"):
        json_grammar(schema)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "maxLength": 1000},
        {"enum": list(range(256))},
        nested(15),
        {"type": "object", "properties": {f"p{i}": {} for i in range(256)}},
    ],
    ids=["max_repeat", "max_choices", "max_depth", "max_properties"],
)
def test_a_schema_at_the_limits_is_written(schema):
    assert "\nroot ::= " in "\n" + json_grammar(schema)


@pytest.mark.parametrize(
    ("schema", "word"),
    [
        ({"enum": []}, "enum"),
        ({"anyOf": []}, "anyOf"),
        ({"type": "string", "maxLength": float("nan")}, "maxLength"),
        ({"type": "string", "minLength": -1}, "minLength"),
        ({"type": "array", "maxItems": 2.5}, "maxItems"),
    ],
)
def test_schemas_that_nothing_could_match_or_that_count_nonsense_are_refused(schema, word):
    with pytest.raises(InvalidParameter, match=word):
        json_grammar(schema)


def test_tools_count_together():
    tools = [ToolSpec(f"t{i}", parameters={"enum": list(range(100))}) for i in range(3)]
    with pytest.raises(InvalidParameter, match=r"\(max_choices\)"):
        tool_call_grammar(tools)
    assert tool_call_grammar(tools[:2])


def test_limits_are_one_typed_object():
    assert GrammarLimits() == DEFAULT_LIMITS
    tight = GrammarLimits(max_choices=2)
    with pytest.raises(InvalidParameter, match=r"limit of 2 \(max_choices\)"):
        json_grammar({"enum": [1, 2, 3]}, tight)
    with pytest.raises(ValueError):
        GrammarLimits(max_repeat=0)


ODD = 'say "hi"\\n\\ to\nme'


def test_literals_with_quotes_backslashes_and_newlines_are_matched_as_written(model):
    result = model.chat(
        [{"role": "user", "content": "Answer."}],
        grammar=json_grammar({"enum": [ODD]}),
        temperature=0,
        max_tokens=40,
    )
    assert json.loads(result.text) == ODD


def test_a_tool_name_with_a_quote_is_a_grammar_llama_cpp_parses(model):
    grammar = tool_call_grammar([ToolSpec('a"b\\c')])
    result = model.chat(
        [{"role": "user", "content": "Go."}], grammar=grammar, temperature=0, max_tokens=40
    )
    assert json.loads(result.text)["name"] == 'a"b\\c'

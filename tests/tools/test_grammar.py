"""Grammars: JSON mode, JSON schemas and forced tool calls, checked on the real model."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from danlu.chat.messages import Message
from danlu.chat.tools import get_format, json_grammar, tool_call_grammar, tool_specs
from danlu.errors import InvalidParameter

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
BOB = [
    Message(
        role="user", content='Give me a JSON object with a "name" and an "age" for Bob, who is 42.'
    )
]


def chat(model, grammar: str, messages=BOB, max_tokens: int = 200):
    return model.chat(messages, grammar=grammar, temperature=0.0, max_tokens=max_tokens)


def test_json_object_grammar_gives_a_json_object(model):
    result = chat(model, json_grammar(None))
    assert result.finish_reason == "stop"
    assert isinstance(json.loads(result.text), dict)


def test_json_schema_grammar_output_validates(model):
    result = chat(model, json_grammar(PERSON))
    assert result.finish_reason == "stop"
    value = json.loads(result.text)
    jsonschema.validate(value, PERSON)


def test_schema_with_refs_arrays_and_enums_is_followed(model):
    schema = {
        "type": "object",
        "properties": {
            "people": {"type": "array", "items": {"$ref": "#/$defs/person"}, "maxItems": 2},
            "mood": {"enum": ["happy", "sad"]},
        },
        "required": ["people", "mood"],
        "$defs": {"person": PERSON},
    }
    result = chat(model, json_grammar(schema))
    assert result.finish_reason == "stop"
    jsonschema.validate(json.loads(result.text), schema)


def test_whitespace_is_bounded_to_one_optional_space():
    grammar = json_grammar(PERSON)
    assert re.search(r"^space ::= \" \"\?$", grammar, re.MULTILINE)
    assert "[ \\t\\n]" not in grammar


def test_strings_cannot_hold_raw_control_characters():
    grammar = json_grammar(None)
    [char] = [line for line in grammar.splitlines() if line.startswith("char ::=")]
    assert "\\x00-\\x1F" in char


def test_the_callers_schema_is_not_modified():
    schema = {"type": "object", "properties": {"p": {"$ref": "#/$defs/p"}}, "$defs": {"p": {}}}
    before = json.dumps(schema)
    json_grammar(schema)
    assert json.dumps(schema) == before


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "quaternion"},
        {"$ref": "https://example.com/schema.json"},
        {"$ref": "#/$defs/missing"},
        ["not", "a", "schema"],
    ],
)
def test_unsupported_schemas_are_an_invalid_parameter(schema):
    with pytest.raises(InvalidParameter) as info:
        json_grammar(schema)
    assert "\n" not in info.value.message


def test_tool_call_grammar_wraps_one_call_in_the_given_text(tools):
    grammar = tool_call_grammar(tools, "get_time", before="<x>\n", after='"')
    assert grammar.startswith('root ::= "<x>\\n" call "\\""\n')
    assert '"\\"get_time\\""' in grammar and "get_weather" not in grammar


def test_each_tools_refs_resolve_against_its_own_parameters():
    def tool(name: str, ref_type: str) -> dict:
        params = {
            "type": "object",
            "properties": {"v": {"$ref": "#/$defs/v"}},
            "required": ["v"],
            "$defs": {"v": {"type": ref_type}},
        }
        return {"type": "function", "function": {"name": name, "parameters": params}}

    grammar = tool_call_grammar(tool_specs([tool("a", "integer"), tool("b", "boolean")]))
    assert "integer" in grammar and "boolean" in grammar


@pytest.mark.parametrize("fmt", ["hermes", "json"])
def test_forced_call_grammars_run_and_parse(model, tools, fmt):
    form = get_format(fmt)
    messages = [Message(role="user", content="What time is it in Tokyo?")]
    result = chat(model, form.grammar(tools), messages)
    assert result.finish_reason == "stop"
    [call] = form.parse(result.text).calls
    spec = next(t for t in tools if t.name == call.name)
    jsonschema.validate(json.loads(call.arguments), spec.parameters)

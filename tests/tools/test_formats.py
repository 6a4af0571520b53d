"""Tool-call formats: reading calls out of model text, tolerantly, and writing them back."""

from __future__ import annotations

import json

import pytest

from danlu.chat.tools import FORMATS, ToolCall, get_format
from danlu.errors import InvalidParameter

HERMES = get_format("hermes")
JSON = get_format("json")


def args(call: ToolCall) -> dict:
    return json.loads(call.arguments)


def test_registry_lists_the_formats_and_refuses_unknown_names():
    assert {"hermes", "json"} <= set(FORMATS)
    with pytest.raises(InvalidParameter) as info:
        get_format("xml")
    assert "hermes" in (info.value.hint or "")


def test_hermes_one_call():
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    parsed = HERMES.parse(text)
    assert parsed.content == ""
    [call] = parsed.calls
    assert call.name == "get_weather" and args(call) == {"city": "Paris"}


def test_hermes_several_calls_with_text_around_them():
    text = (
        "Let me look.\n"
        '<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>\n'
        '<tool_call> {"name": "b", "arguments": {}} </tool_call>'
    )
    parsed = HERMES.parse(text)
    assert [c.name for c in parsed.calls] == ["a", "b"]
    assert parsed.content == "Let me look."
    assert len({c.id for c in parsed.calls}) == 2


def test_hermes_tolerates_fences_aliases_string_arguments_and_a_missing_close():
    text = (
        '<tool_call>\n```json\n{"name": "a", "parameters": {"x": 1}}\n```\n</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": "{\\"y\\": 2}"}'
    )
    parsed = HERMES.parse(text)
    assert [(c.name, args(c)) for c in parsed.calls] == [("a", {"x": 1}), ("b", {"y": 2})]


def test_hermes_malformed_json_stays_content():
    text = '<tool_call>{"name": "a", "arguments": {"x": 1</tool_call>'
    parsed = HERMES.parse(text)
    assert parsed.calls == [] and parsed.content == text


def test_hermes_keeps_a_malformed_block_but_takes_the_good_one():
    bad = "<tool_call>not json</tool_call>"
    parsed = HERMES.parse(bad + '\n<tool_call>{"name": "ok", "arguments": {}}</tool_call>')
    assert [c.name for c in parsed.calls] == ["ok"]
    assert parsed.content == bad


def test_hermes_reads_a_bare_json_call_when_the_tags_are_missing():
    parsed = HERMES.parse('{"name": "get_time", "arguments": {"timezone": "UTC"}}')
    assert [c.name for c in parsed.calls] == ["get_time"]


@pytest.mark.parametrize(
    "text",
    [
        "The weather is nice.",
        '{"city": "Paris"}',  # JSON, but not a call
        '{"name": "Bob", "age": 42}',  # has a name, but other keys too
        "<tool_call>",
    ],
)
def test_ordinary_text_is_not_a_call(text):
    for fmt in (HERMES, JSON):
        parsed = fmt.parse(text)
        assert parsed.calls == [] and parsed.content == text


def test_json_format_object_list_and_fence():
    one = JSON.parse('  {"name": "a", "arguments": {"x": 1}}\n')
    many = JSON.parse('[{"name": "a", "arguments": {}}, {"name": "b", "parameters": {}}]')
    fenced = JSON.parse('```json\n{"name": "a", "arguments": {"x": 1}}\n```')
    assert [c.name for c in one.calls] == ["a"] and one.content == ""
    assert [c.name for c in many.calls] == ["a", "b"]
    assert args(fenced.calls[0]) == {"x": 1}


def test_json_format_call_after_a_line_of_prose():
    parsed = JSON.parse('Sure.\n```json\n{"name": "a", "arguments": {}}\n```')
    assert parsed.content == "Sure." and [c.name for c in parsed.calls] == ["a"]


def test_openai_nested_function_shape_is_read_too():
    text = '{"type": "function", "function": {"name": "a", "arguments": "{\\"x\\": 1}"}}'
    assert args(JSON.parse(text).calls[0]) == {"x": 1}


def test_malformed_json_call_stays_content():
    text = '{"name": "a", "arguments": {"x": }'
    assert JSON.parse(text).calls == []
    assert JSON.parse(text).content == text


@pytest.mark.parametrize("name", ["hermes", "json"])
def test_rendered_calls_parse_back(name):
    fmt = get_format(name)
    calls = [ToolCall.new("a", {"x": 1}), ToolCall.new("b", {"y": "z"})]
    parsed = fmt.parse(fmt.render_calls(calls))
    assert [(c.name, c.arguments) for c in parsed.calls] == [(c.name, c.arguments) for c in calls]
    assert parsed.content == ""


@pytest.mark.parametrize("name", ["hermes", "json"])
def test_instructions_list_every_tool_and_the_call_shape(name, tools):
    text = get_format(name).instructions(tools)
    for tool in tools:
        assert json.dumps(tool.as_dict()) in text
    assert '{"name": <function-name>, "arguments": <args-json-object>}' in text
    assert (name == "hermes") == ("<tool_call>" in text)

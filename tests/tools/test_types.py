"""Tool specs, tool calls and tool_choice: the request and response shapes."""

from __future__ import annotations

import json
import re

import pytest

from danlu.chat.tools import ToolCall, ToolChoice, ToolSpec, parse_tool_choice, tool_specs
from danlu.errors import InvalidRequest
from tests.tools.specs import WEATHER


def test_tool_spec_reads_the_openai_shape():
    spec = ToolSpec.from_dict(WEATHER)
    assert spec.name == "get_weather"
    assert spec.description == "Current weather for a city"
    assert spec.parameters["required"] == ["city"]
    assert spec.as_dict() == WEATHER


def test_tool_spec_accepts_ollama_and_flat_shapes_and_missing_parameters():
    ollama = {"function": {"name": "ping"}}  # Ollama may leave out "type"
    flat = {"type": "function", "name": "ping", "parameters": {"type": "object"}}
    assert ToolSpec.from_dict(ollama).parameters == {"type": "object", "properties": {}}
    assert ToolSpec.from_dict(flat).name == "ping"


@pytest.mark.parametrize(
    "raw, words",
    [
        ("get_weather", "must be an object"),
        ({"type": "retrieval", "function": {"name": "x"}}, "not supported"),
        ({"type": "function", "function": {"description": "no name"}}, "non-empty 'name'"),
        ({"type": "function", "function": {"name": "x", "parameters": []}}, "JSON schema"),
    ],
)
def test_bad_tools_are_refused_with_their_index(raw, words):
    with pytest.raises(InvalidRequest) as info:
        tool_specs([WEATHER, raw])
    assert info.value.message.startswith("tools[1]: ")
    assert words in info.value.message


def test_duplicate_tool_names_are_refused():
    with pytest.raises(InvalidRequest, match="repeated: get_weather"):
        tool_specs([WEATHER, WEATHER])


def test_tool_call_ids_and_both_api_shapes():
    call = ToolCall.new("get_weather", {"city": "Paris"})
    assert re.fullmatch(r"call_[0-9a-f]{12}", call.id)
    assert call.as_openai() == {
        "id": call.id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    assert call.as_ollama() == {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    assert ToolCall.new("x", {}).id != ToolCall.new("x", {}).id


def test_tool_call_from_history_keeps_id_and_accepts_object_arguments():
    openai = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ollama = {"function": {"name": "f", "arguments": {"a": 1}}}
    assert ToolCall.from_dict(openai) == ToolCall("call_1", "f", "{}")
    assert json.loads(ToolCall.from_dict(ollama).arguments) == {"a": 1}
    with pytest.raises(InvalidRequest, match="needs a 'function'"):
        ToolCall.from_dict({"id": "call_2"})


def test_tool_choice_strings(tools):
    assert parse_tool_choice(None, tools) == ToolChoice("auto")
    assert parse_tool_choice("none", tools) == ToolChoice("none")
    required = parse_tool_choice("required", tools)
    assert required.mode == "required" and required.forced and required.name is None
    assert not parse_tool_choice("auto", tools).forced


def test_tool_choice_naming_a_function(tools):
    named = {"type": "function", "function": {"name": "get_time"}}
    assert parse_tool_choice(named, tools) == ToolChoice("function", "get_time")
    responses_api = {"type": "function", "name": "get_time"}
    assert parse_tool_choice(responses_api, tools).name == "get_time"


@pytest.mark.parametrize(
    "value, words",
    [
        ("sometimes", "unknown tool_choice 'sometimes'"),
        ({"type": "function", "function": {"name": "launch"}}, "'launch', which is not in"),
        ({"type": "function", "function": {}}, "names no function"),
        ({"type": "file_search"}, "unknown tool_choice type"),
        (3, "string or an object"),
    ],
)
def test_bad_tool_choice_is_an_invalid_request(tools, value, words):
    with pytest.raises(InvalidRequest) as info:
        parse_tool_choice(value, tools)
    assert words in info.value.message


def test_unknown_function_error_lists_the_tools(tools):
    with pytest.raises(InvalidRequest) as info:
        parse_tool_choice({"type": "function", "function": {"name": "launch"}}, tools)
    assert info.value.hint == "tools: get_weather, get_time"


def test_required_without_tools_is_refused():
    with pytest.raises(InvalidRequest, match="at least one tool"):
        parse_tool_choice("required", [])

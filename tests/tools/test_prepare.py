"""prepare_tools on the real SmolLM2 (a ChatML template that knows nothing of tools)."""

from __future__ import annotations

import json

import jsonschema

from danlu.chat.messages import Message
from danlu.chat.template import ChatTemplate
from danlu.chat.tools import (
    ToolChoice,
    ToolStreamFilter,
    get_format,
    handles_tools,
    parse_tool_choice,
    prepare_tools,
)
from tests.tools.specs import WEATHER

ASK = [Message(role="user", content="What's the weather like in Paris?")]

HISTORY = [
    Message(role="system", content="You are terse."),
    Message(role="user", content="Weather in Oslo and the time there?"),
    Message(
        role="assistant",
        content="",
        tool_calls=(
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
            },
            {"id": "call_2", "function": {"name": "get_time", "arguments": {"timezone": "CET"}}},
        ),
    ),
    Message(role="tool", tool_call_id="call_1", content="Sunny, 21 degrees"),
    Message(role="tool", tool_call_id="call_2", content="14:05"),
]

# A template that renders tools itself, in the style of Qwen 2.5's.
NATIVE = ChatTemplate(
    "native",
    "{% if tools %}TOOLS:{% for t in tools %}{{ t.function.name }};{% endfor %}\n{% endif %}"
    "{% for m in messages %}{{ m.role }}: {{ m.content }}"
    "{% for c in m.tool_calls or [] %}<tool_call>{{ c.function | tojson }}</tool_call>"
    "{% endfor %}\n{% endfor %}",
)


def test_smollm2_template_does_not_handle_tools(model):
    assert not handles_tools(model.template)
    assert handles_tools(NATIVE)


def test_instructions_go_after_the_users_system_prompt(model, tools):
    messages = [Message(role="system", content="Be brief."), *ASK]
    prepared = prepare_tools(model.template, messages, tools, ToolChoice("auto"))
    system = prepared.messages[0]
    assert system.role == "system" and system.content.startswith("Be brief.\n\n# Tools")
    assert prepared.messages[1:] == ASK
    assert prepared.template_tools is None
    # 'auto': free text, but a call the model starts is shaped by a lazy grammar
    assert prepared.grammar.startswith('root ::= "<tool_call>')
    assert prepared.grammar_trigger and "<tool_call>" in prepared.grammar_trigger
    assert prepared.format is get_format("hermes")


def test_instructions_become_the_system_prompt_when_there_is_none(model, tools):
    prepared = prepare_tools(model.template, ASK, tools, ToolChoice("function", "get_time"))
    text = model.render(prepared.messages)
    assert text.startswith("<|im_start|>system\n# Tools")
    assert "SmolLM" not in text  # our system prompt replaces the template's default one
    assert "Call the function get_time now." in text
    assert prepared.grammar is not None and "get_weather" not in prepared.grammar


def test_choice_none_ignores_the_tools(model, tools):
    prepared = prepare_tools(model.template, ASK, tools, ToolChoice("none"))
    assert prepared.messages == ASK
    assert (prepared.template_tools, prepared.grammar, prepared.format) == (None, None, None)


def test_tool_history_renders_as_text_chatml_can_show(model, tools):
    prepared = prepare_tools(model.template, HISTORY, tools, ToolChoice("auto"))
    roles = [m.role for m in prepared.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert all(m.tool_calls is None for m in prepared.messages)
    text = model.render(prepared.messages)
    assert (
        "<|im_start|>assistant\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
        "<tool_call>\n"
        '{"name": "get_time", "arguments": {"timezone": "CET"}}\n</tool_call><|im_end|>\n'
    ) in text
    assert (
        "<|im_start|>user\nTool result (get_weather): Sunny, 21 degrees\n\n"
        "Tool result (get_time): 14:05<|im_end|>\n<|im_start|>assistant\n"
    ) in text


def test_a_user_turn_after_tool_results_merges_into_one_user_turn(model, tools):
    messages = [*HISTORY, Message(role="user", content="Thanks! Summarise.")]
    prepared = prepare_tools(model.template, messages, tools, ToolChoice("auto"))
    assert [m.role for m in prepared.messages] == ["system", "user", "assistant", "user"]
    assert prepared.messages[-1].content.endswith("14:05\n\nThanks! Summarise.")


def test_a_template_that_knows_tools_gets_them_and_object_arguments(tools):
    prepared = prepare_tools(NATIVE, HISTORY, tools, ToolChoice("required"))
    assert prepared.template_tools == [t.as_dict() for t in tools]
    assert prepared.messages[0].content == "You are terse."  # no instructions added
    assert prepared.messages[3].name == "get_weather"
    text = NATIVE.render(prepared.messages, tools=prepared.template_tools)
    assert text.startswith("TOOLS:get_weather;get_time;system: You are terse.")
    assert '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}' in text
    assert prepared.format is get_format("hermes")  # the template shows <tool_call> tags
    assert prepared.grammar is not None


def test_a_native_template_without_tags_parses_bare_json(tools):
    plain = ChatTemplate(
        "plain", NATIVE.source.replace("<tool_call>", "").replace("</tool_call>", "")
    )
    assert prepare_tools(plain, ASK, tools, ToolChoice("auto")).format is get_format("json")


def test_required_choice_makes_a_valid_call(model, tools):
    choice = parse_tool_choice("required", tools)
    prepared = prepare_tools(model.template, ASK, tools, choice)
    result = model.chat(prepared.messages, grammar=prepared.grammar, temperature=0, max_tokens=200)
    assert result.finish_reason == "stop"
    [call] = prepared.format.parse(result.text).calls
    assert call.name == "get_weather"
    jsonschema.validate(json.loads(call.arguments), WEATHER["function"]["parameters"])
    assert "paris" in call.arguments.lower()


def test_named_choice_streams_through_the_filter_as_one_call(model, tools):
    choice = parse_tool_choice({"type": "function", "function": {"name": "get_time"}}, tools)
    prepared = prepare_tools(model.template, ASK, tools, choice, "json")
    assert prepared.format is get_format("json")
    filt = ToolStreamFilter(prepared.format)
    streamed, reason = "", None
    for chunk in model.stream_chat(
        prepared.messages, grammar=prepared.grammar, temperature=0, max_tokens=200
    ):
        streamed += filt.feed(chunk.text)
        reason = chunk.finish_reason or reason
    end = filt.finish()
    assert reason == "stop" and streamed == "" and end.content == ""
    [call] = end.calls
    assert call.name == "get_time"
    jsonschema.validate(json.loads(call.arguments), tools[1].parameters)


def test_the_model_answers_after_tool_results(model, tools):
    prepared = prepare_tools(model.template, HISTORY, tools, ToolChoice("auto"))
    result = model.chat(prepared.messages, temperature=0, max_tokens=40)
    assert result.text.strip()
    assert result.finish_reason in ("stop", "length")


def test_a_response_format_beats_a_lazy_call_grammar_and_a_forced_call_beats_both(model, tools):
    auto = prepare_tools(model.template, ASK, tools, ToolChoice("auto"))
    assert auto.sampling(None) == {"grammar": auto.grammar, "grammar_trigger": auto.grammar_trigger}
    assert auto.sampling("root ::= json") == {"grammar": "root ::= json", "grammar_trigger": None}
    forced = prepare_tools(model.template, ASK, tools, ToolChoice("required"))
    assert forced.sampling("root ::= json") == {"grammar": forced.grammar, "grammar_trigger": None}
    off = prepare_tools(model.template, ASK, tools, ToolChoice("none"))
    assert off.sampling("root ::= json") == {"grammar": "root ::= json", "grammar_trigger": None}

"""ToolStreamFilter: content flows through at once, tool calls come out whole at the end."""

from __future__ import annotations

import pytest

from danlu.chat.tools import ToolStreamFilter, get_format

CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def run(fmt: str, pieces: list[str]):
    """(what was streamed piece by piece, what finish() returned)."""
    filt = ToolStreamFilter(get_format(fmt))
    streamed = [filt.feed(p) for p in pieces]
    return streamed, filt.finish()


def test_plain_text_flows_through_immediately():
    streamed, end = run("hermes", ["Hello", " there", ", friend."])
    assert streamed == ["Hello", " there", ", friend."]
    assert end.content == "" and end.calls == []


def test_a_hermes_call_is_held_back_and_parsed_at_the_end():
    pieces = [CALL[i : i + 3] for i in range(0, len(CALL), 3)]
    streamed, end = run("hermes", pieces)
    assert "".join(streamed) == ""
    assert [c.name for c in end.calls] == ["get_weather"]
    assert end.content == ""


def test_leading_whitespace_before_a_call_is_not_streamed():
    streamed, end = run("hermes", ["\n", " ", CALL])
    assert "".join(streamed) == "" and len(end.calls) == 1


def test_text_before_a_call_streams_and_the_call_does_not():
    streamed, end = run("hermes", ["Checking", " now. <tool", "_call>", CALL[11:]])
    assert "".join(streamed) == "Checking now. "
    assert streamed[1] == " now. "  # "<tool" is held: it may start the opener
    assert len(end.calls) == 1


def test_a_less_than_sign_that_is_no_call_is_released():
    streamed, end = run("hermes", ["<", "b>bold</b> and 3 <", " 4"])
    assert "".join(streamed) == "<b>bold</b> and 3 < 4"
    assert streamed[0] == ""  # held until it could no longer be "<tool_call>"
    assert end.content == "" and end.calls == []


def test_a_partial_opener_at_the_very_end_comes_back_as_content():
    streamed, end = run("hermes", ["a <tool_"])
    assert streamed == ["a "]
    assert end.content == "<tool_" and end.calls == []


def test_malformed_call_comes_back_as_content():
    text = "<tool_call>{oops</tool_call>"
    streamed, end = run("hermes", [text])
    assert streamed == [""] and end.content == text and end.calls == []


@pytest.mark.parametrize("fmt", ["json", "hermes"])
def test_a_leading_bare_json_call_is_held(fmt):
    pieces = ["{", '"name": "get_time", ', '"arguments": {"timezone": "UTC"}}']
    streamed, end = run(fmt, pieces)
    assert "".join(streamed) == ""
    assert [c.name for c in end.calls] == ["get_time"]


def test_a_fenced_json_call_is_held():
    streamed, end = run("json", ["```", "json\n", '{"name": "a", "arguments": {}}', "\n```"])
    assert "".join(streamed) == "" and [c.name for c in end.calls] == ["a"]


@pytest.mark.parametrize(
    "pieces",
    [
        ["{", "x}"],  # a brace that is not a JSON object
        ["[", "link](http://example.com)"],
        ["```", "python\n", "print(1)\n```"],
    ],
)
def test_leading_brackets_that_are_no_call_are_released(pieces):
    streamed, end = run("json", pieces)
    assert "".join(streamed) + end.content == "".join(pieces)
    assert streamed[-1] != "" and end.calls == []


def test_json_format_only_looks_at_the_start():
    pieces = ["Sure: ", '{"name": "a", "arguments": {}}']
    streamed, end = run("json", pieces)
    assert streamed == pieces and end.content == ""


def test_json_object_that_is_no_call_comes_back_at_the_end():
    streamed, end = run("json", ['{"city": ', '"Paris"}'])
    assert "".join(streamed) == ""
    assert end.content == '{"city": "Paris"}' and end.calls == []

"""The agent loop with the real SmolLM2: calls under the grammar, tools that fail, limits.

A 135M model's wording is weak, so these check structure: the call happened with arguments
valid for the schema, the tool message holds what the tool returned, the run ended with an
answer (or a clean error), and the trace says the same.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import danlu
from danlu.agent.events import Answer, Call, Result
from danlu.agent.functions import function_tool
from danlu.agent.loop import Agent, AgentSettings
from danlu.agent.trace import read_trace
from danlu.errors import InvalidParameter

GREEDY = {"temperature": 0.0}


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city's name, such as Paris.
    """
    return f"It is 23 degrees and sunny in {city}."


def settings(tmp_path: Path, **changes: Any) -> AgentSettings:
    base = {"max_tokens": 48, "sampling": GREEDY, "trace": tmp_path / "trace.jsonl"}
    return AgentSettings(**{**base, **changes})


def test_a_required_call_runs_with_valid_arguments_then_the_step_limit_ends_it(model, tmp_path):
    tool = function_tool(get_weather)
    agent = Agent(model, [tool], settings(tmp_path, tool_choice="required", max_steps=1))
    result = agent.run("What is the weather in Paris?")

    first = result.calls[0]
    assert first.step == 1 and first.name == "get_weather"
    jsonschema.validate(first.arguments, tool.spec.parameters)  # the grammar saw to it
    ran = result.results[0]
    assert ran.ok and ran.text == get_weather(**first.arguments)
    # the result went back to the model as a tool message answering that call
    tool_messages = [m for m in result.messages if m["role"] == "tool"]
    assert tool_messages[0]["content"] == ran.text
    assert tool_messages[0]["tool_call_id"] == first.id
    assert isinstance(result.events[-1], Answer) and result.answer is not None
    assert "23" in result.answer  # what only the tool said
    # the trace holds the same run: start, the call, its result, the answer, the end
    records = read_trace(tmp_path / "trace.jsonl")
    kinds = [r["type"] for r in records]
    assert kinds[0] == "start" and kinds[-1] == "end" and "answer" in kinds
    assert next(r["arguments"] for r in records if r["type"] == "call") == first.arguments
    assert records[-1]["messages"] == result.messages
    # after max_steps (1) rounds of calls, the next step is decoded with the tools away
    assert result.events[-1].reason == "max_steps" and len(result.calls) == 1
    steps = [r for r in records if r["type"] == "step"]
    assert [s["grammar"] for s in steps] == ["full", "none"]
    assert all(s["seconds"] >= 0 and s["prompt_tokens"] > 0 for s in steps)


def test_a_tool_that_raises_is_an_observation_and_the_run_goes_on(model, tmp_path):
    def lookup(name: str) -> str:
        """Look a name up."""
        raise KeyError(name)

    agent = Agent(
        model, [function_tool(lookup)], settings(tmp_path, tool_choice="required", max_steps=1)
    )
    result = agent.run("Look up Ada.")
    failed = result.results[0]
    assert failed.kind == "error" and failed.text.startswith("error: KeyError")
    assert result.error is None and isinstance(result.events[-1], Answer)


def test_a_tool_that_hangs_past_its_timeout_is_a_timeout_observation(model, tmp_path):
    release = threading.Event()

    def slow(query: str) -> str:
        """Search slowly."""
        release.wait(30)
        return "late"

    tool = function_tool(slow, timeout=0.5)
    agent = Agent(model, [tool], settings(tmp_path, tool_choice="required", max_steps=1))
    try:
        result = agent.run("Search for cats.")
    finally:
        release.set()
    timed_out = result.results[0]
    assert timed_out.kind == "timeout" and "did not finish within 0.5 s" in timed_out.text
    assert timed_out.seconds < 5
    assert isinstance(result.events[-1], Answer)


def test_a_repeated_call_runs_once_and_ends_the_tool_use(model, tmp_path):
    ran = []

    def today() -> str:
        """Today's date."""
        ran.append(1)
        return "2026-12-05"

    agent = Agent(
        model, [function_tool(today)], settings(tmp_path, tool_choice="required", max_steps=4)
    )
    result = agent.run("What is the date today?")
    assert len(ran) == 1  # every call of today() is the same call: it runs once
    for again in result.results[1:]:
        assert again.kind == "repeat" and "already called" in again.text
    if len(result.calls) > 1:  # the model asked again: the next step had no tools
        assert result.events[-1].reason == "repeat"
    assert isinstance(result.events[-1], Answer)


def test_auto_lets_the_model_answer_and_none_offers_no_tools(model, tmp_path):
    for choice in ("auto", "none"):
        agent = Agent(model, [function_tool(get_weather)], settings(tmp_path, tool_choice=choice))
        result = agent.run("Say hello.")
        assert isinstance(result.events[-1], Answer)
        if choice == "none":
            assert not result.calls
            records = read_trace(tmp_path / "trace.jsonl")
            assert {r["grammar"] for r in records if r["type"] == "step"} == {"none"}


def test_a_context_too_small_is_an_error_event_not_a_crash(model, tmp_path):
    agent = Agent(model, [function_tool(get_weather)], settings(tmp_path))
    result = agent.run("weather " * 3000)
    assert result.answer is None and "context" in (result.error or "")
    assert read_trace(tmp_path / "trace.jsonl")[-1]["type"] == "end"


def test_a_call_cut_off_by_max_tokens_ends_the_run_with_an_error(model, tmp_path):
    agent = Agent(
        model,
        [function_tool(get_weather)],
        settings(tmp_path, tool_choice="required", max_tokens=6),
    )
    result = agent.run("What is the weather in Paris?")
    assert not result.calls and result.answer is None
    assert "cut off at max_tokens (6)" in (result.error or "")


def test_settings_are_checked():
    with pytest.raises(InvalidParameter, match="tool choice"):
        AgentSettings(tool_choice="sometimes")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="max_steps"):
        AgentSettings(max_steps=0)


def test_the_python_api_runs_a_function_and_writes_a_trace_under_the_home(model, danlu_home):
    result = danlu.agent(
        model, "What is the weather in Oslo?", [get_weather], tool_choice="required",
        max_steps=1, max_tokens=48, temperature=0.0,
    )  # fmt: skip
    assert result.calls and result.calls[0].name == "get_weather"
    assert result.results[0].ok and "sunny" in result.results[0].text
    assert Path(result.trace).parent == danlu_home / "agents"
    events = list(
        danlu.agent.api.stream_agent(model, "Hi", tool_choice="none", max_tokens=8, temperature=0.0)
    )
    assert isinstance(events[-1], Answer) and not any(isinstance(e, Call | Result) for e in events)


def test_parallel_calls_run_at_once():
    """Several calls in one step run together: two half-second tools take about half a
    second, not one (the grammar gives one call per step; an unconstrained model, or a
    template that emits a list, may give several)."""
    from danlu.agent.execute import run_calls

    def nap(seconds: float) -> str:
        """Sleep."""
        time.sleep(seconds)
        return "done"

    tool = function_tool(nap)
    calls = [Call(1, f"call_{i}", "nap", {"seconds": 0.5}) for i in range(2)]
    started = time.monotonic()
    results = run_calls(calls, {"nap": tool})
    assert [r.text for r in results] == ["done", "done"]
    assert time.monotonic() - started < 0.9


def test_invalid_and_unknown_calls_are_observations():
    from danlu.agent.execute import run_calls

    tools = {"get_weather": function_tool(get_weather)}
    calls = [
        Call(1, "a", "get_weather", {"town": "Paris"}),
        Call(1, "b", "get_time", {}),
        Call(1, "c", "get_weather", {"city": 3}),
    ]
    results = run_calls(calls, tools)
    assert [r.kind for r in results] == ["invalid", "unknown", "invalid"]
    assert "'city' is a required property" in results[0].text
    assert "tools: get_weather" in results[1].text
    assert "city: 3 is not of type 'string'" in results[2].text

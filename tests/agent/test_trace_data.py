"""A run's trace is training data: `load_data` (and so `danlu train sft --data`) reads it."""

from __future__ import annotations

from danlu.agent.functions import function_tool
from danlu.agent.loop import Agent, AgentSettings
from danlu.train.data import ChatExample, load_data
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city's name.
    """
    return f"It is 23 degrees and sunny in {city}."


def test_the_end_line_of_each_run_is_one_conversation_as_the_model_read_it(
    model,
    tmp_path,
    danlu,  # noqa: F811
):
    trace = tmp_path / "trace.jsonl"
    settings = AgentSettings(
        tool_choice="required", max_steps=1, max_tokens=48, sampling={"temperature": 0.0},
        trace=trace,
    )  # fmt: skip
    result = Agent(model, [function_tool(get_weather)], settings).run("Weather in Lima?")
    two = tmp_path / "two.jsonl"
    two.write_text(trace.read_text() * 2, encoding="utf-8")  # two runs, one file

    data = load_data(two)
    assert data.format.name == "trace" and not data.problems
    assert len(data.examples) == 2 and isinstance(data.examples[0], ChatExample)
    turns = data.examples[0].messages
    assert turns[0].role == "system" and "<tools>" in turns[0].content  # the instructions
    call = result.calls[0]
    assistant = next(m for m in turns if m.role == "assistant")
    assert assistant.content.startswith("<tool_call>") and call.arguments["city"] in (
        assistant.content
    )
    assert any(
        m.role == "user" and f"Tool result (get_weather): {result.results[0].text}" in m.content
        for m in turns
    )
    data.require_clean(["chat"])  # what train sft asks of its data

    checked = danlu("data", "check", str(two))
    assert checked.code == 0, checked.err
    assert "trace (chat)" in checked.out and "valid: 2" in checked.out

"""danlu's own capabilities as tools, run by the real SmolLM2 with a call required:
a knowledge base (`kb_search`) and the sandboxed code interpreter (`run_python`)."""

from __future__ import annotations

import jsonschema
import pytest

import danlu.kb
from danlu.agent.events import Answer
from danlu.agent.loop import Agent, AgentSettings
from danlu.agent.registry import open_tools
from danlu.config import Settings
from danlu.errors import DanluError

SECRET = "The blue door's secret code is 4719. Only the night guard knows it."


def run_once(model, tools, tmp_path, task: str):
    settings = AgentSettings(
        tool_choice="required", max_steps=1, max_tokens=64, sampling={"temperature": 0.0},
        trace=tmp_path / "trace.jsonl",
    )  # fmt: skip
    return Agent(model, tools, settings).run(task)


def test_the_kb_tool_returns_passages_with_their_sources(model, danlu_home, tmp_path):
    settings = Settings(home=danlu_home)
    notes = tmp_path / "notes.txt"
    notes.write_text(SECRET + "\n", encoding="utf-8")
    with danlu.kb.create("doors", settings=settings) as kb:
        kb.add([notes])
    with open_tools([("kb", "doors")], settings) as tools:
        assert [t.name for t in tools] == ["kb_search"] and tools[0].source == "kb:doors"
        result = run_once(model, tools, tmp_path, "What is the secret code of the blue door?")
    call = result.calls[0]
    jsonschema.validate(call.arguments, tools[0].spec.parameters)
    found = result.results[0]
    assert found.ok and "4719" in found.text and f"source: {notes}" in found.text
    assert any(m["role"] == "tool" and "4719" in m["content"] for m in result.messages)
    assert isinstance(result.events[-1], Answer) and "4719" in result.answer  # only the KB knew


def test_a_kb_that_does_not_exist_fails_before_the_run(danlu_home):
    missing = pytest.raises(DanluError, match="no knowledge base named 'nowhere'")
    with missing, open_tools([("kb", "nowhere")], Settings(home=danlu_home)):
        pass


def test_the_code_tool_runs_the_model_s_code_in_the_sandbox(model, tmp_path):
    with open_tools([("code", None)]) as tools:
        assert tools[0].name == "run_python" and tools[0].timeout > 30
        result = run_once(model, tools, tmp_path, "Compute 6 * 7 with Python.")
    call = result.calls[0]
    assert isinstance(call.arguments.get("code"), str)
    ran = result.results[0]
    # the sandbox's status line, or its refusal where this machine cannot confine code
    assert ran.text.startswith(("exit code", "killed", "stopped")) or (
        ran.kind == "error" and "SandboxUnavailable" in ran.text
    ), ran.text
    assert isinstance(result.events[-1], Answer)

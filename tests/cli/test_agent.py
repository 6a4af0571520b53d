"""`danlu agent` in-process: a tool from module:function, the run as JSON, one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

TOOLS = '''
def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city's name.
    """
    return f"It is 23 degrees and sunny in {city}."
'''


def test_a_function_tool_is_called_and_the_run_is_traced(danlu, danlu_home, tmp_path, monkeypatch):
    (tmp_path / "cli_agent_tools.py").write_text(TOOLS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    trace = tmp_path / "run.jsonl"
    result = danlu(
        "agent", "smollm2", "What is the weather in Paris?", "--tool",
        "cli_agent_tools:get_weather", "--tool-choice", "required", "--max-steps", "1",
        "-n", "48", "--temp", "0", "-c", "1024", "-t", "2", "--trace", str(trace), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    run = json.loads(result.out)
    assert run["calls"][0]["name"] == "get_weather"
    assert run["results"][0]["kind"] == "ok" and "sunny" in run["results"][0]["text"]
    assert run["trace"] == str(trace) and trace.exists()
    assert json.loads(trace.read_text().splitlines()[-1])["type"] == "end"


def test_a_malformed_tool_spec_is_one_line_before_the_model_loads(danlu):
    for spec, message in [
        ("nocolon", "'nocolon' is not a module:function tool"),
        ("no_such_module_z:f", "cannot import no_such_module_z"),
    ]:
        result = danlu("agent", "smollm2", "hi", "--tool", spec)
        assert result.code == 1
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
        assert "Traceback" not in result.err


def test_an_unknown_tool_choice_and_a_missing_kb_are_one_line(danlu):
    result = danlu("agent", "smollm2", "hi", "--tool-choice", "sometimes")
    assert result.code == 1 and "unknown tool choice 'sometimes'" in result.err
    result = danlu("agent", "smollm2", "hi", "--kb", "nowhere")
    assert result.code == 1 and "no knowledge base named 'nowhere'" in result.err


def test_an_mcp_server_that_cannot_start_is_one_line(danlu):
    result = danlu("agent", "smollm2", "hi", "--mcp", "no-such-command-xyz")
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert "cannot start MCP server 'no-such-command-xyz'" in result.err


def test_interactive_mode_reads_tasks_until_the_input_ends(danlu, danlu_home):
    result = danlu(
        "agent", "smollm2", "--tool-choice", "none", "-n", "8", "-c", "512", stdin="Hi\n"
    )
    assert result.code == 0, result.err
    assert result.out.count("task> ") == 2  # one task, then the end of the input
    traces = list(Path(danlu_home / "agents").glob("*.jsonl"))
    assert len(traces) == 1

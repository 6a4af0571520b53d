"""An MCP server's tool through the agent loop: the real SmolLM2, a call required, and a
real MCPServer (the SDK's FastMCP) that the test writes and starts over stdio."""

from __future__ import annotations

import sys
from pathlib import Path

import jsonschema
import pytest

from danlu.agent.events import Answer
from danlu.agent.loop import Agent, AgentSettings
from danlu.agent.registry import open_tools

pytest.importorskip("mcp", reason="the agent extra installs the mcp SDK")

SERVER = '''
import os
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("vault")


@server.tool()
def vault_code(door: str) -> str:
    """The code that opens a door of the vault."""
    return f"The code of the {door} door is 4719."


@server.tool()
def die(reason: str) -> str:
    """Stop the server."""
    os._exit(3)


if __name__ == "__main__":
    server.run()
'''


def start(tmp_path: Path) -> str:
    path = tmp_path / "vault_server.py"
    path.write_text(SERVER, encoding="utf-8")
    return f"{sys.executable} {path}"


def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(
        tool_choice="required", max_steps=1, max_tokens=48, sampling={"temperature": 0.0},
        trace=tmp_path / "trace.jsonl",
    )  # fmt: skip


def test_an_mcp_tool_is_called_with_valid_arguments_and_its_result_is_read(model, tmp_path):
    with open_tools([("mcp", start(tmp_path))], timeout=20) as tools:
        vault = next(t for t in tools if t.name == "vault_code")
        assert vault.source.startswith("mcp:")
        result = Agent(model, [vault], settings(tmp_path)).run("What is the code of the red door?")
    call = result.calls[0]
    jsonschema.validate(call.arguments, vault.spec.parameters)
    got = result.results[0]
    assert got.ok and got.text == f"The code of the {call.arguments['door']} door is 4719."
    assert any(m["role"] == "tool" and "4719" in m["content"] for m in result.messages)
    answer = result.events[-1]
    assert isinstance(answer, Answer) and "4719" in answer.text  # the code only the tool knew


def test_a_server_that_dies_mid_call_is_an_observation_and_the_run_ends(model, tmp_path):
    with open_tools([("mcp", start(tmp_path))], timeout=20) as tools:
        die = next(t for t in tools if t.name == "die")
        result = Agent(model, [die], settings(tmp_path)).run("Stop the server.")
    gone = result.results[0]
    assert gone.kind == "error" and "\n" not in gone.text, gone.text
    assert isinstance(result.events[-1], Answer)

"""MCP tools through danlu's client, against a real MCPServer (the SDK's FastMCP) that the
test writes and starts as a stdio subprocess: calls, timeouts, a killed server, bad specs.

Every failure must be one line, typed, and come within its bound, never a hang.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from danlu.agent.mcp_client import Endpoint, open_mcp_tools
from danlu.agent.tools import Tool
from danlu.errors import DanluError, InvalidRequest, McpError, McpServerGone, McpTimeout

pytest.importorskip("mcp", reason="the agent extra installs the mcp SDK")

SERVER = '''
import os
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("calc")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@server.tool()
def hang(seconds: float, flag: str = "") -> str:
    """Sleep for `seconds`, after touching the file `flag` (if given)."""
    if flag:
        Path(flag).touch()
    time.sleep(seconds)
    return "woke"


@server.tool()
def divide(a: float, b: float) -> float:
    """a / b."""
    if b == 0:
        raise ValueError("cannot divide by zero")
    return a / b


if __name__ == "__main__":
    server.run()
'''


@pytest.fixture(scope="module")
def server_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mcp") / "calc_server.py"
    path.write_text(SERVER, encoding="utf-8")
    return path


def command(path: Path) -> str:
    return f"{sys.executable} {path}"


def named(tools: list[Tool]) -> dict[str, Tool]:
    return {tool.name: tool for tool in tools}


@pytest.fixture(scope="module")
def calc(server_file: Path) -> Iterator[dict[str, Tool]]:
    """One server for the tests that leave it alive (a hung call is cancelled, not fatal)."""
    with open_mcp_tools(command(server_file), timeout=3) as tools:
        yield named(tools)


def one_line(error: DanluError) -> str:
    line = error.one_line()
    assert "\n" not in line and error.hint, line
    return line


def test_tools_are_listed_with_their_schemas(calc: dict[str, Tool]):
    add = calc["add"]
    assert sorted(calc) == ["add", "divide", "hang", "pid"]
    assert add.source == "mcp:calc" and add.timeout == 3
    assert add.spec.description == "Add two integers."
    assert add.spec.parameters["required"] == ["a", "b"]
    assert add.spec.parameters["properties"]["a"]["type"] == "integer"


def test_a_call_returns_the_tools_text(calc: dict[str, Tool]):
    assert calc["add"].run({"a": 2, "b": 40}) == "42"


def test_calls_from_many_threads_share_the_session(calc: dict[str, Tool]):
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: calc["add"].run({"a": i, "b": 1}), range(12)))
    assert answers == [str(i + 1) for i in range(12)]


def test_a_tool_error_is_an_mcp_error_naming_it(calc: dict[str, Tool]):
    with pytest.raises(McpError) as caught:
        calc["divide"].run({"a": 1, "b": 0})
    assert "'divide'" in one_line(caught.value)


def test_a_hung_tool_times_out_and_the_session_goes_on(calc: dict[str, Tool]):
    started = time.monotonic()
    with pytest.raises(McpTimeout) as caught:
        calc["hang"].run({"seconds": 30})
    assert 2.5 < time.monotonic() - started < 8
    assert "did not answer within 3 s" in one_line(caught.value)
    assert calc["add"].run({"a": 1, "b": 1}) == "2"  # the session survives


def _kill_when(flag: Path, pid: int) -> None:
    deadline = time.monotonic() + 20
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def test_a_server_killed_mid_call_is_one_line_not_a_hang(server_file: Path, tmp_path: Path):
    with open_mcp_tools(command(server_file), timeout=60) as tools:
        calc = named(tools)
        flag = tmp_path / "started"
        killer = threading.Thread(target=_kill_when, args=(flag, int(calc["pid"].run({}))))
        killer.start()
        started = time.monotonic()
        with pytest.raises(McpServerGone) as caught:
            calc["hang"].run({"seconds": 60, "flag": str(flag)})
        killer.join()
        assert time.monotonic() - started < 10  # not the 60 s timeout
        assert "'calc' is gone" in one_line(caught.value)
        with pytest.raises(McpServerGone):  # and every later call, at once
            calc["add"].run({"a": 1, "b": 1})


def refusal(spec: str, error: type[McpError], **options: float) -> str:
    """The one line `open_mcp_tools(spec)` fails with."""
    with pytest.raises(error) as caught, open_mcp_tools(spec, **options):
        pass
    return one_line(caught.value)


def test_a_missing_command_is_one_line():
    line = refusal("no-such-mcp-server --stdio", McpError)
    assert "command 'no-such-mcp-server' not found" in line


def test_a_command_that_dies_at_start_says_its_last_words():
    spec = f"{sys.executable} -c \"raise SystemExit('no config file here')\""
    assert "no config file here" in refusal(spec, McpServerGone)


def test_a_command_that_never_answers_times_out_at_start():
    spec = f'{sys.executable} -c "import time; time.sleep(60)"'
    started = time.monotonic()
    assert "did not start within 2 s" in refusal(spec, McpTimeout, connect_timeout=2)
    assert time.monotonic() - started < 10  # the SDK's bounded shutdown kills it


def test_an_unreachable_url_is_one_line():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    line = refusal(f"http://127.0.0.1:{port}/mcp", McpError, connect_timeout=10)
    assert "cannot reach MCP server" in line


def test_specs_are_read_as_commands_or_urls():
    assert Endpoint.parse("http://h:8000/mcp").url == "http://h:8000/mcp"
    assert Endpoint.parse("http://h:8000/mcp").label == "h:8000"
    stdio = Endpoint.parse("python 'my server.py' --verbose")
    assert stdio.argv == ("python", "my server.py", "--verbose")
    assert stdio.label == "my server"
    for bad in ["", "   ", "python 'unclosed"]:
        with pytest.raises(InvalidRequest):
            Endpoint.parse(bad)

"""`danlu mcp` driven by the `mcp` SDK's own client, over stdio and streamable HTTP.

The server runs as the real command in a subprocess, over a DANLU_HOME holding a tiny
knowledge base built here with the real MiniLM embedder; over HTTP its API key is checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

import danlu.kb
from danlu.agent.mcp_client import open_mcp_tools
from danlu.config import Settings
from danlu.errors import McpError

mcp = pytest.importorskip("mcp", reason="the agent extra installs the mcp SDK")
httpx2 = pytest.importorskip("httpx2", reason="the mcp SDK's HTTP client")

DANLU = [sys.executable, "-c", "from danlu.cli.main import main; main()"]
KEY = "mcp-test-key"
QUESTION = "How many days of annual leave?"
SHORT = {"max_tokens": 48}  # the answer's length: the test needs one, not a long one
LEAVE = """# Leave policy

Employees get 25 days of paid annual leave. Request leave in the HR portal at least two
weeks ahead; your manager approves it.
"""
PARKING = """# Parking

The car park opens at 7:00. Bicycles go in the shed by the north entrance.
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DANLU_HOME with knowledge base 'office' (two short documents)."""
    home = tmp_path_factory.mktemp("mcp-home")
    docs = tmp_path_factory.mktemp("mcp-docs")
    (docs / "leave.md").write_text(LEAVE, encoding="utf-8")
    (docs / "parking.md").write_text(PARKING, encoding="utf-8")
    with danlu.kb.create("office", settings=Settings(home=home), embedder="minilm") as kb:
        kb.add([docs / "leave.md", docs / "parking.md"])
    return home


def environment(home: Path) -> dict[str, str]:
    return {**os.environ, "DANLU_HOME": str(home), "DANLU_THREADS": "2", "DANLU_N_CTX": "2048"}


def stdio(home: Path) -> mcp.StdioServerParameters:
    return mcp.StdioServerParameters(
        command=DANLU[0], args=[*DANLU[1:], "mcp"], env=environment(home)
    )


def test_over_stdio_tools_are_listed_and_kb_search_cites_its_sources(home: Path):
    async def session() -> dict:
        async with mcp.Client(stdio(home)) as client:
            call = client.call_tool
            return {
                "listed": await client.list_tools(),
                "found": await call("kb_search", {"kb": "office", "query": "paid leave"}),
                "asked": await call("kb_ask", {"kb": "office", "question": QUESTION, **SHORT}),
                "missing": await call("kb_search", {"kb": "nowhere", "query": "x"}),
                # the model is loaded by now (kb_ask): these are quick
                "models": await call("list_models", {}),
                "chat": await call("chat", {"prompt": "Hi.", "max_tokens": 8, "temperature": 0}),
                "embed": await call("embed", {"texts": ["leave", "parking"]}),
            }

    got = anyio.run(session)
    names = {tool.name for tool in got["listed"].tools}
    assert names == {"list_models", "chat", "list_knowledge_bases", "kb_search", "kb_ask", "embed"}
    found = got["found"]
    first = found.structured_content["hits"][0]
    assert not found.is_error and first["n"] == 1 and first["path"].endswith("leave.md")
    assert first["source"].startswith(first["path"]) and "25 days" in first["text"]
    assert found.content[0].text.startswith(f"[1] {first['source']}")
    # the answer comes from the embedded model, with its sources and what it cited
    answer = got["asked"].structured_content
    assert not got["asked"].is_error and not answer["abstained"] and answer["answer"].strip()
    assert answer["sources"][0]["path"].endswith("leave.md")
    # which numbers a 135M model writes is its own; a valid one names one of the sources
    sources = {source["path"] for source in answer["sources"]}
    assert all(c["path"] in sources for c in answer["citations"] if c["valid"])
    missing = got["missing"]
    assert missing.is_error and "no knowledge base named 'nowhere'" in missing.content[0].text
    assert got["models"].structured_content["models"][0]["name"] == "smollm2"
    chat = got["chat"].structured_content
    assert chat["model"] == "smollm2" and chat["usage"]["completion_tokens"] <= 8
    vectors = got["embed"].structured_content
    assert len(vectors["embeddings"]) == 2 and len(vectors["embeddings"][0]) == vectors["dimension"]


def test_without_the_agent_extra_the_command_names_it(monkeypatch, capsys):
    from danlu.cli.main import main

    monkeypatch.setitem(sys.modules, "mcp", None)  # import mcp now fails, as if not installed
    assert main(["mcp"]) == 1
    assert "pip install 'danlu[agent]'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def http_url(home: Path) -> Iterator[str]:
    """`danlu mcp --http` on an ephemeral port, with one API key."""
    command = [*DANLU, "mcp", "--http", "127.0.0.1:0", "--api-key", KEY]
    process = subprocess.Popen(
        command, env=environment(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        banner = process.stdout.readline()  # printed once the socket listens
        assert banner.startswith("danlu MCP on http://"), process.stderr.read()
        yield banner.split()[3]
    finally:
        process.terminate()
        process.wait(timeout=15)


async def _tools_with(url: str, headers: dict[str, str]) -> list[str]:
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers=headers) as http:
        transport = streamable_http_client(url, http_client=http)
        async with mcp.Client(transport) as client:
            return [tool.name for tool in (await client.list_tools()).tools]


def test_over_http_the_api_key_is_required(http_url: str):
    assert "kb_search" in anyio.run(_tools_with, http_url, {"Authorization": f"Bearer {KEY}"})
    assert "kb_ask" in anyio.run(_tools_with, http_url, {"X-API-Key": KEY})
    for refused in [{}, {"Authorization": "Bearer wrong"}]:
        with pytest.raises(Exception) as caught:  # the SDK's own error, in a task group
            anyio.run(_tools_with, http_url, refused)
        assert "MCPError" in repr(caught.value)
        # what the SDK saw: danlu's Guard, as in front of `danlu serve`
        hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        answer = httpx.post(http_url, json=hello, headers=refused, timeout=10)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_api_key"


def test_danlus_own_client_uses_danlu_mcp_over_http(http_url: str):
    headers = {"Authorization": f"Bearer {KEY}"}
    with open_mcp_tools(http_url, timeout=30, headers=headers) as tools:
        by_name = {tool.name: tool for tool in tools}
        assert by_name["list_knowledge_bases"].run({}) == "office"
        assert by_name["list_models"].run({}).startswith("smollm2: gguf")
        assert by_name["kb_search"].source == "mcp:danlu"
    with pytest.raises(McpError) as caught, open_mcp_tools(http_url, connect_timeout=10):
        pass
    assert "\n" not in caught.value.one_line()

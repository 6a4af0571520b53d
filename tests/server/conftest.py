"""A live danlu server on an ephemeral loopback port, shared by the server tests."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import ollama
import openai
import pytest

from danlu.config import Settings
from danlu.server import ServerSettings, create_app
from danlu.server.serving import Server, api_server


@dataclass
class LiveServer:
    url: str
    app: object
    server: Server
    thread: threading.Thread

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"


def start_server(server_settings: ServerSettings, home) -> LiveServer:
    """Bind 127.0.0.1:0, serve in a daemon thread, wait for /health to say ok."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(server_settings, Settings(home=home, threads=2))
    server = api_server(app, grace=server_settings.shutdown_grace)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return LiveServer(url, app, server, thread)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


def metric(live, name: str) -> float:
    """The sample `name` (labels included, e.g. 'x_total{route="/v1"}') in /metrics.

    A sample that is not there fails the test: read as 0 it would pass every `== 0`."""
    text = httpx.get(f"{live.url}/metrics", timeout=60).text
    match = re.search(rf"^{re.escape(name)} ([-+0-9.e]+|NaN|[+-]Inf)$", text, re.M)
    assert match, f"/metrics has no sample {name}"
    return float(match.group(1))


def eventually(check: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Wait until `check()` holds, polling; fail naming `what` after `timeout` seconds.

    The timeout is generous on purpose: a slow machine only takes longer, and a test says
    what state it waits for, never how soon it must come."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"still waiting after {timeout:g} s: {what}"
        time.sleep(0.05)


def stop_server(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=30)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """smollm2 preloaded, 4 slots of 2048 tokens, models never expire."""
    home = tmp_path_factory.mktemp("server-home")
    settings = ServerSettings(
        models=["smollm2"],
        parallel=4,
        n_ctx=2048,
        threads=2,
        keep_alive=-1,
        max_loaded=2,
        max_queue=16,
    )
    server = start_server(settings, home)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def openai_client(live: LiveServer) -> openai.OpenAI:
    """The official OpenAI SDK pointed at the shared live server."""
    return openai.OpenAI(base_url=live.v1, api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def ollama_client(live: LiveServer) -> ollama.Client:
    """The official Ollama client pointed at the shared live server."""
    return ollama.Client(host=live.url, timeout=120)

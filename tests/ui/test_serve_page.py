"""`danlu serve --ui`: the page at /ui of the API app, behind a login that takes an API key;
its chat borrows the server's model (one copy) and answers as the API does; its jobs are
cancelled when the server stops."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from danlu.config import Settings
from danlu.errors import InvalidParameter
from danlu.server import ServerSettings, create_app
from danlu.ui.server import attach
from tests.ui.conftest import danlu_process, ui_env
from tests.ui.page import Page

QUESTION = "What is the capital of France?"


def test_the_page_sits_beside_the_apis_and_its_login_takes_an_api_key(danlu_home):
    app = create_app(ServerSettings(api_keys=["k1"]), Settings(home=danlu_home))
    attach(app, "127.0.0.1", {"k1"}, Settings(home=danlu_home))
    client = TestClient(app)
    assert client.get("/v1/models").status_code == 401  # the APIs still want the key
    assert client.get("/ui/").status_code == 200  # the page answers with its login form
    assert client.get("/ui/config").status_code == 401  # but shows nothing before it
    wrong = client.post("/ui/login", data={"username": "me", "password": "nope"})
    assert wrong.status_code >= 400
    right = client.post("/ui/login", data={"username": "me", "password": "k1"})
    assert right.status_code == 200
    assert client.get("/ui/config").status_code == 200


def test_an_open_page_off_loopback_is_refused(danlu_home):
    app = create_app(ServerSettings(), Settings(home=danlu_home))
    with pytest.raises(InvalidParameter, match="without a login"):
        attach(app, "0.0.0.0", set(), Settings(home=danlu_home))


def _until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_pages_jobs_are_cancelled_when_the_server_stops(danlu_home):
    settings = Settings(home=danlu_home)
    app = attach(create_app(ServerSettings(), settings), "127.0.0.1", set(), settings)
    jobs = app.state.danlu_ui.jobs

    def count(job) -> None:
        for step in range(10**9):
            job.progress("counting", step, 10**9)  # raises Cancelled once cancel is asked
            time.sleep(0.01)

    with TestClient(app):  # startup, then shutdown on leaving
        process = jobs.spawn("serve", "a danlu process", ["serve", "--port", "0"])
        _until(lambda: any("danlu serving on" in line for line in process.log))
        thread = jobs.start("count", "a thread job", count)
        _until(lambda: thread.total > 0)
    assert (process.state, thread.state) == ("cancelled", "cancelled")
    assert process.process is not None and process.process.poll() is not None
    assert jobs.settled == 2


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`danlu serve --ui` with nothing loaded at start, on an ephemeral loopback port:
    its URL and its DANLU_HOME."""
    home = tmp_path_factory.mktemp("serve-ui-home")
    args = ["serve", "--ui", "--port", "0", "-c", "1024"]
    with danlu_process(args, home, r"danlu serving on (http://\S+)") as url:
        yield url, home


def _loaded(url: str) -> list[str]:
    return [m["name"] for m in httpx.get(f"{url}/api/ps", timeout=60).json()["models"]]


@pytest.mark.slow
def test_the_pages_chat_borrows_the_servers_model(browser, served, artifacts):
    url, home = served
    assert _loaded(url) == []  # nothing loaded at start
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")  # the session's page keeps its own tab
    try:
        page = Page(browser, url + "/ui", artifacts)
        page.open()
        page.greedy(max_tokens=16)
        page.type("chat-input", QUESTION, enter=True)
        page.wait(lambda: "tok/s" in page.text("chat-speed"))
        page.type("chat-save-name", "pooled")
        page.click("chat-save")
        page.wait(lambda: "Saved" in page.text("chat-note"))
        page.shot("serve-ui-chat")
    finally:
        browser.close()
        browser.switch_to.window(first)
    assert _loaded(url) == ["smollm2"]  # the pool loaded it for the page: the one copy
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": QUESTION}],
        "temperature": 0,
        "max_tokens": 16,
    }
    api = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120).json()
    saved = json.loads((home / "sessions" / "pooled.json").read_text())
    page_answer = saved["messages"][-1]["content"]
    assert page_answer and page_answer == api["choices"][0]["message"]["content"]
    assert _loaded(url) == ["smollm2"]


@pytest.mark.slow
def test_a_server_is_benched_from_the_page(page, served):
    # `danlu ui`'s Evaluate tab runs `danlu bench serve URL` against the other process
    url, _ = served
    page.tab("Evaluate")
    page.open_accordion("bench-panel", "#bench-target input, #bench-target textarea")
    page.type("bench-target", url)
    page.type("bench-gen", "4")
    page.click("bench-run")
    page.wait(lambda: f"{url}: done" in page.text("bench-output"), timeout=600)
    lines = page.text("bench-output").splitlines()
    assert any(line.startswith("| clients | requests | errors |") for line in lines), lines
    levels = [line.split("|")[1:4] for line in lines if re.match(r"\| [12] \|", line)]
    assert [[cell.strip() for cell in row] for row in levels] == [["1", "4", "0"], ["2", "4", "0"]]


# Counts the page's heartbeat streams whose response has begun (gradio's client opens it
# with fetch as the page loads); installed before any script of the page runs.
WATCH_HEARTBEAT = """
window.__heartbeats = 0;
const fetchFirst = window.fetch;
window.fetch = function (...args) {
  const reply = fetchFirst.apply(this, args);
  if (String(args[0] && args[0].url || args[0]).includes("/heartbeat/")) {
    reply.then((r) => { if (r.ok) window.__heartbeats += 1; });
  }
  return reply;
};
"""

STOPPING = {  # a command that serves the page: (its args, its banner, the page's path)
    "ui": (["ui", "--no-browser"], r"danlu ui on (http://\S+?)/?\s", "/"),
    "serve --ui": (["serve", "--ui"], r"danlu serving on (http://\S+)", "/ui/"),
}


@pytest.mark.slow
@pytest.mark.parametrize("command", STOPPING)
def test_a_page_open_in_a_tab_does_not_hold_the_stop(command, browser, tmp_path):
    # an open tab keeps a heartbeat stream; on SIGTERM the server ends it at once instead
    # of waiting out its grace period and cancelling it with a logged traceback
    args, banner, path = STOPPING[command]
    danlu = Path(sys.executable).with_name("danlu")
    process = subprocess.Popen(
        [str(danlu), *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ui_env(tmp_path),
    )
    first = browser.current_window_handle
    try:
        url = re.search(banner, process.stdout.readline())[1]
        browser.switch_to.new_window("tab")
        watch = {"source": WATCH_HEARTBEAT}
        browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", watch)
        browser.get(url + path)
        page = Page(browser, url, tmp_path)
        page.wait(lambda: browser.execute_script("return window.__heartbeats") == 1)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
        if browser.current_window_handle != first:
            browser.close()
            browser.switch_to.window(first)
    assert process.returncode == -signal.SIGTERM, out  # uvicorn re-raises it once stopped
    assert "Traceback" not in out and "graceful shutdown exceeded" not in out, out

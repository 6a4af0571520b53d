"""POST /v1/agent/runs on the live server: events streamed as SSE, or one JSON; only the
tools that run nothing a client chose (a KB, the sandbox) can be asked for."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from danlu.agent.trace import read_trace

RUNS = "/v1/agent/runs"


def events_of(response: httpx.Response) -> list:
    lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_a_run_streams_its_events_and_ends_with_the_trace(live):
    body = {
        "task": "Compute 6 * 7 with Python.", "code": True, "tool_choice": "required",
        "max_steps": 1, "max_tokens": 64, "temperature": 0,
    }  # fmt: skip
    response = httpx.post(f"{live.url}{RUNS}", json=body, timeout=300)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response)
    kinds = [e["type"] for e in events]
    assert kinds[-2:] == ["answer", "end"] and "call" in kinds and "result" in kinds
    call = next(e for e in events if e["type"] == "call")
    assert call["name"] == "run_python" and isinstance(call["arguments"]["code"], str)
    end = events[-1]
    assert end["answer"] == events[-2]["text"]
    trace = Path(end["trace"])
    assert trace.exists() and json.loads(trace.read_text().splitlines()[-1])["type"] == "end"


def test_a_run_without_streaming_is_one_json(live):
    body = {"task": "Say hi.", "max_tokens": 8, "temperature": 0, "stream": False}
    response = httpx.post(f"{live.url}{RUNS}", json=body, timeout=300)
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["error"] is None and run["answer"] is not None
    assert run["events"][-1]["type"] == "answer" and run["messages"][0]["content"] == "Say hi."


def test_bad_requests_are_openai_errors(live):
    for body, status, needle in [
        ({"task": "x", "messages": [{"role": "user", "content": "x"}]}, 400, "either 'task'"),
        ({}, 400, "either 'task'"),
        ({"task": "x", "tools": ["os:system"]}, 400, "tools"),  # no functions over HTTP
        ({"task": "x", "kb": "nowhere"}, 404, "no knowledge base named 'nowhere'"),
        ({"task": "x", "model": "no-such-model"}, 404, "no-such-model"),
    ]:
        response = httpx.post(f"{live.url}{RUNS}", json=body, timeout=60)
        assert response.status_code == status, (body, response.text)
        assert needle in response.json()["error"]["message"], response.text


def test_a_client_that_leaves_stops_the_run(live):
    agents = live.app.state.danlu.settings.agents_dir
    before = set(agents.glob("*.jsonl")) if agents.exists() else set()
    body = {"task": "Tell a very long story about a dragon.", "max_tokens": 1500}
    with httpx.stream("POST", f"{live.url}{RUNS}", json=body, timeout=300) as response:
        assert response.status_code == 200
        first = next(line for line in response.iter_lines() if line.startswith("data: "))
        assert json.loads(first[6:])["type"] == "thought"
    # the connection is closed: the run stops at its next event, long before 1500 tokens
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = set(agents.glob("*.jsonl")) - before
        try:
            records = read_trace(next(iter(new))) if new else []
        except ValueError:  # a line being written
            records = []
        if records and records[-1]["type"] == "end":
            break
        time.sleep(0.2)
    assert records and records[-1]["type"] == "end", records
    assert [m["role"] for m in records[-1]["messages"]] == ["user"]  # the turn never finished
    assert not any(r["type"] == "answer" for r in records)
    again = httpx.post(f"{live.url}{RUNS}", json={"task": "Hi.", "max_tokens": 4, "stream": False})
    assert again.status_code == 200 and again.json()["answer"] is not None  # the slot is free

"""Servers with other settings: API keys, CORS, a tiny queue, disconnects, concurrency."""

from __future__ import annotations

import concurrent.futures
import json
import threading

import httpx
import openai
import pytest

from danlu.server import ServerSettings
from tests.near_ties import assert_same_steps_up_to_a_near_tie
from tests.server.conftest import eventually, metric, start_server, stop_server

ASK = {"model": "smollm2", "messages": [{"role": "user", "content": "Tell me a story."}]}


@pytest.fixture
def server_with(tmp_path):
    started = []

    def start(**settings):
        defaults = {"models": ["smollm2"], "n_ctx": 1024, "threads": 2, "parallel": 2}
        live = start_server(ServerSettings(**{**defaults, **settings}), tmp_path / "home")
        started.append(live)
        return live

    yield start
    for live in started:
        stop_server(live)


def test_api_keys_guard_every_route_but_health(server_with, tmp_path):
    key_file = tmp_path / "keys.txt"
    key_file.write_text("# team keys\nfile-key\n", encoding="utf-8")
    live = server_with(api_keys=["sekret"], api_key_file=key_file)
    assert httpx.get(f"{live.url}/health", timeout=60).status_code == 200
    refused = httpx.get(f"{live.v1}/models", timeout=60)
    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    refused = httpx.get(
        f"{live.url}/api/tags", headers={"Authorization": "Bearer wrong"}, timeout=60
    )
    assert refused.status_code == 401 and set(refused.json()) == {"error"}
    assert "API key" in refused.json()["error"]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=live.v1, api_key="wrong", max_retries=0).models.list()
    for key in ("sekret", "file-key"):
        models = openai.OpenAI(base_url=live.v1, api_key=key, max_retries=0).models.list()
        assert "smollm2" in [m.id for m in models]


def test_cors_is_closed_by_default_and_opens_when_asked(live, server_with):
    origin = {"Origin": "http://app.example"}
    closed = httpx.get(f"{live.v1}/models", headers=origin, timeout=60)
    assert closed.status_code == 403 and "access-control-allow-origin" not in closed.headers
    opened = server_with(allowed_origins=["http://app.example"])
    r = httpx.get(f"{opened.v1}/models", headers=origin, timeout=60)
    assert r.headers["access-control-allow-origin"] == "http://app.example"


def test_full_queue_answers_503_with_retry_after_and_keeps_serving(server_with):
    live = server_with(parallel=1, max_queue=0)
    body = {**ASK, "max_tokens": 200, "ignore_eos": True}

    def call(_):
        return httpx.post(f"{live.v1}/chat/completions", json=body, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(call, range(4)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) >= 1 and 503 in codes
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["code"] == "server_busy"
    ok = httpx.post(f"{live.v1}/chat/completions", json={**ASK, "max_tokens": 2}, timeout=60)
    assert ok.status_code == 200


def test_a_client_that_disconnects_mid_stream_frees_its_slot(server_with):
    live = server_with(parallel=1)
    body = {**ASK, "max_tokens": 2000, "ignore_eos": True, "stream": True}
    with httpx.stream("POST", f"{live.v1}/chat/completions", json=body, timeout=60) as r:
        lines = r.iter_lines()
        for _ in range(5):
            next(lines)
        assert metric(live, "danlu_active_slots") == 1
    eventually(lambda: metric(live, "danlu_active_slots") == 0, "the slot freed")
    assert metric(live, "danlu_cancelled_requests_total") == 1
    ok = httpx.post(f"{live.v1}/chat/completions", json={**ASK, "max_tokens": 2}, timeout=60)
    assert ok.status_code == 200  # the single slot is free again


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {**ASK, "max_tokens": 2000, "ignore_eos": True}),
        (
            "/api/chat",
            {
                "model": "smollm2",
                "messages": ASK["messages"],
                "stream": False,
                "options": {"num_predict": 2000, "num_ctx": 1024},
            },
        ),
    ],
)
def test_a_client_that_gives_up_on_a_plain_request_frees_its_slot(server_with, path, body):
    live = server_with(parallel=1)
    with pytest.raises(httpx.ReadTimeout):  # the client hangs up while the answer is made
        httpx.post(f"{live.url}{path}", json=body, timeout=httpx.Timeout(60, read=1.0))
    # cancelled, not finished: an answer that ran to its end would count as served (its
    # tokens in danlu_generated_tokens_total) and never as cancelled
    eventually(
        lambda: metric(live, "danlu_cancelled_requests_total") == 1,
        "the request cancelled when its client left",
    )
    eventually(lambda: metric(live, "danlu_active_slots") == 0, "the slot freed")
    assert metric(live, "danlu_generated_tokens_total") == 0
    assert metric(live, "danlu_cancelled_requests_total") == 1


CHORES = "My chores this week: " + ", ".join(f"on day {i} I tidy room {i}" for i in range(24))
BREAD = "How I bake bread: " + ", ".join(f"in step {i} I knead for {i} minutes" for i in range(24))


@pytest.mark.parametrize("cache_ram", [None, 0])
def test_the_ram_prompt_cache_brings_back_a_prompt_its_slot_lost(server_with, model, cache_ram):
    """One slot, two long prompts that share only the chat header: the second takes the
    slot, and the first one's state goes to RAM (llama-server's --cache-ram), whence its
    repeat is served all but its last token; with cache_ram=0 only the header is reused."""
    live = server_with(parallel=1, n_ctx=1024, **({} if cache_ram is None else {"cache_ram": 0}))

    def ask(text: str) -> dict:
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": text}],
            "max_tokens": 4,
            "temperature": 0,
        }
        r = httpx.post(f"{live.v1}/chat/completions", json=body, timeout=120)
        assert r.status_code == 200, r.text
        return r.json()["usage"]

    first, other, again = ask(CHORES), ask(BREAD), ask(CHORES)
    chores, bread = (
        model.prepare_chat([{"role": "user", "content": t}]).tokens for t in (CHORES, BREAD)
    )
    header = next(i for i, (a, b) in enumerate(zip(chores, bread, strict=False)) if a != b)
    assert header * 2 < len(chores)  # so the second prompt's admission saves the first
    assert first["prompt_tokens"] == again["prompt_tokens"] == len(chores)
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    assert other["prompt_tokens_details"]["cached_tokens"] == header  # the slot's own cache
    cached = again["prompt_tokens_details"]["cached_tokens"]
    assert cached == (header if cache_ram == 0 else len(chores) - 1)


def assert_same_answer_up_to_a_near_tie(solo, batched) -> None:
    """llama.cpp's sums shift a little with the batch's shape, which flips a greedy pick on
    a near-tie (tests/near_ties.py)."""
    assert_same_steps_up_to_a_near_tie(steps(solo), steps(batched))


def steps(logprobs) -> list:
    return [
        (t.token, t.logprob, {x.token: x.logprob for x in t.top_logprobs}) for t in logprobs.content
    ]


def test_eight_simultaneous_greedy_requests_match_their_solo_answers(server_with):
    live = server_with(parallel=8, n_ctx=512)
    client = openai.OpenAI(base_url=live.v1, api_key="x", max_retries=0, timeout=300)
    prompts = [f"Write one sentence about the number {i}." for i in range(8)]

    def ask(prompt: str):
        r = client.chat.completions.create(
            model="smollm2",
            temperature=0,
            max_tokens=24,
            logprobs=True,
            top_logprobs=2,
            messages=[{"role": "user", "content": prompt}],
        )
        return r.choices[0].logprobs

    solo = [ask(p) for p in prompts]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        together = list(pool.map(ask, prompts))
    for alone, batched in zip(solo, together, strict=True):
        assert_same_answer_up_to_a_near_tie(alone, batched)


def test_stopping_the_server_ends_running_streams_at_once(tmp_path):
    """Not after the 30 s grace: a stream cut then would end without the error event, its
    task cancelled by uvicorn; here the stream itself says the server is shutting down."""
    live = start_server(
        ServerSettings(models=["smollm2"], n_ctx=4096, threads=2, parallel=2, shutdown_grace=30),
        tmp_path / "home",
    )
    body = {**ASK, "max_tokens": 4000, "ignore_eos": True, "stream": True}
    lines: list[str] = []
    with httpx.stream("POST", f"{live.v1}/chat/completions", json=body, timeout=60) as r:
        stream = r.iter_lines()
        for _ in range(5):
            lines.append(next(stream))
        stopper = threading.Thread(target=stop_server, args=(live,))
        stopper.start()
        lines.extend(stream)
    stopper.join()
    events = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    assert events[-1]["error"]["code"] == "shutting_down"
    assert "shutting down" in events[-1]["error"]["message"]
    assert "data: [DONE]" not in lines and not any(e.get("usage") for e in events)
    tokens = [e for e in events if "choices" in e and e["choices"][0]["delta"].get("content")]
    assert 0 < len(tokens) < 4000  # cut short
    live.thread.join(timeout=300)
    assert not live.thread.is_alive()

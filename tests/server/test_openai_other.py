"""The `openai` client on /v1/completions and /v1/embeddings; tokenize and metrics."""

from __future__ import annotations

import base64
import math
import struct

import httpx
import pytest

from tests.server.conftest import eventually, metric


def test_text_completion_and_stream_agree(openai_client):
    r = openai_client.completions.create(
        model="smollm2", prompt="1, 2, 3, 4,", temperature=0, max_tokens=6
    )
    assert r.object == "text_completion"
    assert r.choices[0].text.startswith(" 5")
    assert r.usage.completion_tokens == 6
    streamed = "".join(
        c.choices[0].text
        for c in openai_client.completions.create(
            model="smollm2", prompt="1, 2, 3, 4,", temperature=0, max_tokens=6, stream=True
        )
        if c.choices
    )
    assert streamed == r.choices[0].text


def test_echo_with_logprobs_scores_the_prompt(openai_client):
    """What lm-eval's openai-completions backend sends: echo, logprobs, max_tokens=0."""
    r = openai_client.completions.create(
        model="smollm2",
        prompt="The sky is blue",
        echo=True,
        logprobs=1,
        max_tokens=0,
        temperature=0,
    )
    choice = r.choices[0]
    assert choice.text == "The sky is blue"
    lp = choice.logprobs
    assert lp.token_logprobs[0] is None
    assert all(x <= 0 for x in lp.token_logprobs[1:])
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset)
    assert "".join(lp.tokens) == choice.text
    assert r.usage.completion_tokens == 0


def test_echoed_prompt_gets_as_many_alternatives_as_generated_tokens(openai_client):
    ask = {"model": "smollm2", "prompt": "1, 2, 3,", "echo": True, "logprobs": 3}
    r = openai_client.completions.create(**ask, max_tokens=2, temperature=0)
    lp = r.choices[0].logprobs
    assert lp.top_logprobs[0] is None  # the first prompt token has nothing before it
    assert all(len(t) == 3 for t in lp.top_logprobs[1:])
    for alternatives, chosen in zip(lp.top_logprobs[1:], lp.token_logprobs[1:], strict=True):
        assert chosen <= max(alternatives.values()) + 1e-6
    ones = openai_client.completions.create(**{**ask, "logprobs": 1}, max_tokens=0)
    best = [max(t, key=t.get) for t in lp.top_logprobs[1:4]]
    assert [next(iter(t)) for t in ones.choices[0].logprobs.top_logprobs[1:4]] == best


def test_generation_logprobs_legacy_format(openai_client):
    r = openai_client.completions.create(
        model="smollm2", prompt="1, 2, 3,", temperature=0, max_tokens=3, logprobs=2
    )
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == 3 and all(len(t) == 2 for t in lp.top_logprobs)
    assert "".join(lp.tokens) == r.choices[0].text


def _joined_stream(openai_client, **ask) -> tuple[str, dict[str, list], list[str | None]]:
    """Text, legacy logprobs and finish reasons of one streamed choice, put back together."""
    text, reasons = "", []
    logprobs: dict[str, list] = {"tokens": [], "token_logprobs": [], "text_offset": []}
    for chunk in openai_client.completions.create(**ask, stream=True):
        choice = chunk.choices[0]
        text += choice.text
        reasons.append(choice.finish_reason)
        if choice.logprobs:
            for key in logprobs:
                logprobs[key] += getattr(choice.logprobs, key)
    return text, logprobs, reasons


def test_streamed_logprobs_match_the_plain_answer(openai_client):
    ask = {"model": "smollm2", "prompt": "1, 2, 3,", "temperature": 0, "max_tokens": 4}
    plain = openai_client.completions.create(**ask, logprobs=2, echo=True).choices[0]
    text, logprobs, reasons = _joined_stream(openai_client, **ask, logprobs=2, echo=True)
    assert text == plain.text and reasons[-1] == plain.finish_reason
    assert logprobs["tokens"] == plain.logprobs.tokens
    assert logprobs["text_offset"] == plain.logprobs.text_offset
    assert logprobs["token_logprobs"][0] is None
    assert logprobs["token_logprobs"][1:] == pytest.approx(plain.logprobs.token_logprobs[1:])


def test_streamed_echo_with_max_tokens_zero_is_sse(openai_client):
    ask = {"model": "smollm2", "prompt": "The sky is blue", "echo": True, "max_tokens": 0}
    text, logprobs, reasons = _joined_stream(openai_client, **ask, logprobs=1)
    assert text == "The sky is blue" and "".join(logprobs["tokens"]) == text
    assert reasons[-1] == "length"


def test_batch_of_prompts(openai_client):
    r = openai_client.completions.create(
        model="smollm2", prompt=["a, b, c,", "1, 2, 3,"], temperature=0, max_tokens=2
    )
    assert [c.index for c in r.choices] == [0, 1]


def test_streamed_usage_covers_every_prompt_and_matches_the_plain_answer(openai_client):
    ask = {
        "model": "smollm2",
        "prompt": ["Alpha beta", "One two three four"],
        "temperature": 0,
        "max_tokens": 3,
        "extra_body": {"ignore_eos": True},
    }
    plain = openai_client.completions.create(**ask).usage
    chunks = list(
        openai_client.completions.create(**ask, stream=True, stream_options={"include_usage": True})
    )
    streamed = chunks[-1].usage
    assert chunks[-1].choices == []
    assert all(c.usage is None for c in chunks[:-1])
    assert streamed.completion_tokens == plain.completion_tokens == 6  # 3 per prompt
    assert streamed.prompt_tokens == plain.prompt_tokens
    assert streamed.total_tokens == plain.total_tokens


def test_embeddings_single_and_batch(openai_client):
    one = openai_client.embeddings.create(model="smollm2", input="hello world")
    vec = one.data[0].embedding
    assert len(vec) == 576 and math.isclose(sum(v * v for v in vec), 1.0, rel_tol=1e-3)
    many = openai_client.embeddings.create(model="smollm2", input=["hello world", "tax law"])
    assert [d.index for d in many.data] == [0, 1]
    assert many.data[0].embedding == pytest.approx(vec, abs=1e-5)
    assert many.usage.prompt_tokens > one.usage.prompt_tokens


def test_embeddings_dimensions_keep_the_head_renormalised(openai_client, live):
    full = openai_client.embeddings.create(model="smollm2", input="hello world").data[0]
    short = openai_client.embeddings.create(model="smollm2", input="hello world", dimensions=64)
    vec = short.data[0].embedding
    assert len(vec) == 64 and math.isclose(sum(v * v for v in vec), 1.0, rel_tol=1e-3)
    norm = math.sqrt(sum(v * v for v in full.embedding[:64]))
    assert vec == pytest.approx([v / norm for v in full.embedding[:64]], abs=1e-5)
    body = {"model": "smollm2", "input": "hi", "dimensions": 5000}
    r = httpx.post(f"{live.v1}/embeddings", json=body, timeout=60)
    assert r.status_code == 400 and "576" in r.json()["error"]["message"]


def test_embeddings_base64_decodes_to_the_float_vector(openai_client, live):
    floats = openai_client.embeddings.create(
        model="smollm2", input="hi", encoding_format="float"
    ).data[0]
    body = {"model": "smollm2", "input": "hi", "encoding_format": "base64"}
    encoded = httpx.post(f"{live.v1}/embeddings", json=body, timeout=60).json()["data"][0][
        "embedding"
    ]
    raw = base64.b64decode(encoded, validate=True)
    assert len(raw) == 4 * len(floats.embedding) == 4 * 576  # float32, as OpenAI sends
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)  # little-endian
    assert decoded == pytest.approx(floats.embedding, rel=1e-6, abs=1e-7)


def test_tokenize_detokenize_round_trip(live):
    tokens = httpx.post(f"{live.url}/tokenize", json={"content": "Hello danlu"}, timeout=60).json()[
        "tokens"
    ]
    assert tokens and all(isinstance(t, int) for t in tokens)
    text = httpx.post(f"{live.url}/detokenize", json={"tokens": tokens}, timeout=60).json()[
        "content"
    ]
    assert text == "Hello danlu"


def test_metrics_count_what_was_served(openai_client, live):
    ask = {
        "model": "smollm2",
        "max_tokens": 3,
        "temperature": 0,
        "messages": [{"role": "user", "content": "Count the metrics."}],
        "extra_body": {"ignore_eos": True},  # three tokens each, whatever the model says
    }
    openai_client.chat.completions.create(**ask)  # every series below exists from here on
    route = 'danlu_requests_total{route="/v1/chat/completions",status="200"}'
    counters = (
        route,
        "danlu_prompt_tokens_total",
        "danlu_generated_tokens_total",
        "danlu_prefix_cache_tokens_total",
        "danlu_prefix_cache_hits_total",
        "danlu_time_to_first_token_seconds_count",
        "danlu_inter_token_latency_seconds_count",
    )
    before = {name: metric(live, name) for name in counters}
    usages = [openai_client.chat.completions.create(**ask).usage for _ in range(3)]
    # the request counter goes up once the response is out, which the client may see first
    eventually(lambda: metric(live, route) >= before[route] + 3, "three requests counted")
    moved = {name: metric(live, name) - before[name] for name in counters}
    cached = [u.prompt_tokens_details.cached_tokens for u in usages]
    assert moved == {
        route: 3,
        "danlu_prompt_tokens_total": sum(u.prompt_tokens for u in usages),
        "danlu_generated_tokens_total": 9,
        "danlu_prefix_cache_tokens_total": sum(cached),
        "danlu_prefix_cache_hits_total": sum(1 for c in cached if c),
        "danlu_time_to_first_token_seconds_count": 3,
        "danlu_inter_token_latency_seconds_count": 3,  # one mean per request of 2+ tokens
    }
    assert all(cached)  # the same question thrice: the prefix cache served each
    assert metric(live, "danlu_queue_depth") == metric(live, "danlu_active_slots") == 0


def test_health_and_openapi(live):
    assert httpx.get(f"{live.url}/health", timeout=60).json() == {"status": "ok"}
    assert (
        "/v1/chat/completions" in httpx.get(f"{live.url}/openapi.json", timeout=60).json()["paths"]
    )


def test_per_request_context_length(live):
    body = {"model": "smollm2", "prompt": "1, 2, 3,", "max_tokens": 50, "temperature": 0}
    small = httpx.post(f"{live.v1}/completions", json={**body, "n_ctx": 16}, timeout=60).json()
    assert small["usage"]["prompt_tokens"] + small["usage"]["completion_tokens"] <= 16
    assert small["choices"][0]["finish_reason"] == "length"
    too_big = httpx.post(f"{live.v1}/completions", json={**body, "n_ctx": 100_000}, timeout=60)
    assert too_big.status_code == 400
    assert "context length 100000" in too_big.json()["error"]["message"]
    chat = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], "n_ctx": 64}
    r = httpx.post(
        f"{live.v1}/chat/completions", json={**chat, "max_tokens": 100}, timeout=60
    ).json()
    assert r["usage"]["total_tokens"] <= 64

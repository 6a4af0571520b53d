"""Token ids from a request are checked before llama.cpp sees them: a bad one is a 400.

A bad id used to abort the whole server process (std::out_of_range in llama.cpp) on
/v1/embeddings, or answer a 500 on /v1/completions. Each case here is followed by a
normal request to the same server, which must still answer.
"""

from __future__ import annotations

import httpx
import openai
import pytest

N_VOCAB = 49152  # SmolLM2's vocabulary


def post(live, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{live.url}{path}", json=body, timeout=60)


def message_of(response: httpx.Response) -> str:
    error = response.json()["error"]
    return error if isinstance(error, str) else error["message"]


def assert_refused(response: httpx.Response, bad: int) -> None:
    assert response.status_code == 400, response.text
    text = message_of(response)
    assert f" {bad} is outside this model's vocabulary (0..{N_VOCAB - 1})" in text
    if not isinstance(response.json()["error"], str):
        assert response.json()["error"]["type"] == "invalid_request_error"


def assert_still_serving(live) -> None:
    assert httpx.get(f"{live.url}/health", timeout=10).status_code == 200
    ok = post(live, "/v1/embeddings", {"model": "smollm2", "input": "still here"})
    assert ok.status_code == 200
    assert len(ok.json()["data"][0]["embedding"]) == 576


@pytest.mark.parametrize(
    ("value", "bad"),
    [([N_VOCAB], N_VOCAB), ([999999], 999999), ([-1], -1), ([[5, 6], [7, 2**31]], 2**31)],
)
def test_embeddings_with_ids_outside_the_vocabulary(live, value, bad):
    assert_refused(post(live, "/v1/embeddings", {"model": "smollm2", "input": value}), bad)
    assert_still_serving(live)


@pytest.mark.parametrize(
    ("prompt", "bad"),
    [([999999], 999999), ([-1], -1), ([[1, 2], [3, N_VOCAB]], N_VOCAB), ([2**63], 2**63)],
)
def test_completions_with_ids_outside_the_vocabulary(live, prompt, bad):
    body = {"model": "smollm2", "prompt": prompt, "max_tokens": 2}
    assert_refused(post(live, "/v1/completions", body), bad)
    assert_refused(post(live, "/v1/completions", {**body, "stream": True}), bad)
    assert_still_serving(live)


@pytest.mark.parametrize("prompt", [[], [[]], [[1, 2], []]])
def test_completions_with_empty_token_lists(live, prompt):
    r = post(live, "/v1/completions", {"model": "smollm2", "prompt": prompt, "max_tokens": 2})
    assert r.status_code == 400
    assert "empty" in message_of(r)


def test_logit_bias_detokenize_and_ollama_context(live):
    chat = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    biased = {**chat, "logit_bias": {"49152": 1}}
    assert_refused(post(live, "/v1/chat/completions", biased), N_VOCAB)
    text = {"model": "smollm2", "prompt": "hi", "max_tokens": 1, "logit_bias": {"-3": 1}}
    assert_refused(post(live, "/v1/completions", text), -3)
    assert_refused(post(live, "/detokenize", {"tokens": [1, N_VOCAB + 7]}), N_VOCAB + 7)
    generate = {"model": "smollm2", "prompt": "hi", "context": [1, -1], "stream": False}
    assert_refused(post(live, "/api/generate", generate), -1)
    assert_still_serving(live)


def test_special_token_ids_are_embedded_as_given(live):
    """[1, 2, 3] are special tokens: they used to be dropped, leaving nothing to embed."""
    r = post(live, "/v1/embeddings", {"model": "smollm2", "input": [1, 2, 3]})
    assert r.status_code == 200, r.text
    assert len(r.json()["data"][0]["embedding"]) == 576
    assert r.json()["usage"]["prompt_tokens"] == 3


def test_ids_embed_exactly_as_the_text_they_spell(live):
    tokens = httpx.post(
        f"{live.url}/tokenize", json={"content": "a cup of tea", "add_special": True}, timeout=30
    ).json()["tokens"]
    by_text = post(live, "/v1/embeddings", {"model": "smollm2", "input": "a cup of tea"}).json()
    by_ids = post(live, "/v1/embeddings", {"model": "smollm2", "input": tokens}).json()
    assert by_ids["usage"]["prompt_tokens"] == by_text["usage"]["prompt_tokens"] == len(tokens)
    a, b = by_text["data"][0]["embedding"], by_ids["data"][0]["embedding"]
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5


def test_chat_max_tokens_zero_is_refused_like_the_cli(openai_client, live):
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        openai_client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "hi"}], max_tokens=0
        )
    with pytest.raises(openai.BadRequestError, match="max_completion_tokens"):
        openai_client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": "hi"}],
            max_completion_tokens=0,
        )
    # text completions keep max_tokens 0 (echo-only scoring), as OpenAI does
    r = post(live, "/v1/completions", {"model": "smollm2", "prompt": "hi", "max_tokens": 0})
    assert r.status_code == 200
    assert r.json()["usage"]["completion_tokens"] == 0

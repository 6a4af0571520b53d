"""Bad input gets the right status and an OpenAI-style error body; the server stays up."""

from __future__ import annotations

import json

import httpx
import openai
import pytest


def post(live, path: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{live.url}{path}", timeout=60, **kwargs)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert {"message", "type", "param", "code"} <= set(body["error"])
    return body["error"]


CHAT = "/v1/chat/completions"
OK = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def test_malformed_json(live):
    r = post(live, CHAT, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "JSON" in error_of(r)["message"]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"max_tokens": "many"}, "max_tokens"),
        ({"temperature": -1}, "temperature"),
        ({"messages": "hi"}, "messages"),
        ({"messages": []}, "messages"),
        ({"n": 0}, "n"),
        ({"stream_options": {"include_usage": True}}, "stream_options is only allowed"),
        ({"top_logprobs": 3}, "top_logprobs needs logprobs"),
        ({"tool_choice": "required"}, "tool_choice is only allowed when tools"),
        ({"tool_choice": "auto", "tools": []}, "tool_choice is only allowed when tools"),
        ({"response_format": {"type": "json_schema"}}, "needs a json_schema object"),
        ({"logit_bias": {"999999": 5}}, "outside this model's vocabulary"),
        ({"logit_bias": {"-1": 5}}, "outside this model's vocabulary"),
    ],
)
def test_wrong_types_and_ranges(live, change, needle):
    r = post(live, CHAT, json={**OK, **change})
    assert r.status_code == 400
    assert needle in error_of(r)["message"]
    assert "value error" not in error_of(r)["message"].lower()


@pytest.mark.parametrize("field", ["functions", "audio", "modalities", "prediction"])
def test_unsupported_parameters_are_rejected_by_name(live, field):
    r = post(live, CHAT, json={**OK, field: [] if field != "audio" else {}})
    assert r.status_code == 400
    assert f"unsupported parameter '{field}'" in error_of(r)["message"]


def test_unknown_model_is_404(live):
    client = openai.OpenAI(base_url=live.v1, api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "nope" in str(info.value)


def test_image_parts_are_refused(live):
    msg = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
    r = post(live, CHAT, json={**OK, "messages": [msg]})
    assert r.status_code == 400
    assert "image_url" in error_of(r)["message"]


def test_suffix_on_completions_is_refused(live):
    r = post(live, "/v1/completions", json={"model": "smollm2", "prompt": "a", "suffix": "b"})
    assert r.status_code == 400


def test_prompt_longer_than_the_context_is_400(live):
    r = post(live, CHAT, json={**OK, "messages": [{"role": "user", "content": "word " * 3000}]})
    assert r.status_code == 400
    assert error_of(r)["code"] == "context_length_exceeded"


def _turns(count: int, words: int) -> list[dict]:
    said = [{"role": "system", "content": "You keep notes."}]
    for i in range(count):
        said.append({"role": "user", "content": f"note {i}: " + "word " * words})
        said.append({"role": "assistant", "content": f"noted {i}"})
    return [*said, {"role": "user", "content": "what was note 0?"}]


def test_a_conversation_that_outgrows_the_context_is_400_not_trimmed(live):
    """OpenAI never drops turns on its own; a conversation too long for n_ctx is a 400."""
    r = post(live, CHAT, json={**OK, "messages": _turns(6, 60), "n_ctx": 256})
    assert r.status_code == 400
    assert error_of(r)["code"] == "context_length_exceeded"


def test_a_conversation_that_fits_keeps_every_turn(live):
    """No quarter of the context is held back: 3/4 full still sends every message."""
    body = {**OK, "messages": _turns(4, 34), "max_tokens": 4}
    full = post(live, CHAT, json=body).json()["usage"]["prompt_tokens"]
    assert 192 < full < 252  # more than 3/4 of a 256-token context, and room for 4
    del body["max_tokens"]  # none given: the answer gets whatever room is left
    r = post(live, CHAT, json={**body, "n_ctx": 256})
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    assert usage["prompt_tokens"] == full and full + usage["completion_tokens"] <= 256


def test_oversized_body_is_413(live):
    r = post(live, CHAT, json={**OK, "messages": [{"role": "user", "content": "x" * 9_000_000}]})
    assert r.status_code == 413


def _chunks(payload: bytes, size: int = 65536):
    for i in range(0, len(payload), size):
        yield payload[i : i + size]


def test_oversized_chunked_body_is_413(live):
    """No Content-Length to refuse early: the body is read up to the limit, then refused."""
    body = json.dumps({**OK, "messages": [{"role": "user", "content": "x" * 9_000_000}]})
    r = post(
        live, CHAT, content=_chunks(body.encode()), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert error_of(r)["code"] == "request_too_large"
    r = post(live, "/api/chat", content=_chunks(body.encode()))
    assert r.status_code == 413 and "over" in r.json()["error"]


def test_a_small_chunked_body_is_read_whole(live):
    body = json.dumps({**OK, "max_tokens": 3}).encode()
    r = post(live, CHAT, content=_chunks(body, 7), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 3


def test_a_request_larger_than_the_queue_can_ever_take_is_400(live):
    """Each prompt × n is a generation; more than slots + queue could never run."""
    capacity = live.app.state.danlu.server.parallel + live.app.state.danlu.server.max_queue
    body = {"model": "smollm2", "prompt": ["a"] * (capacity // 2 + 1), "n": 2, "max_tokens": 1}
    r = post(live, "/v1/completions", json=body)
    assert r.status_code == 400
    assert f"{2 * (capacity // 2 + 1)} generations" in error_of(r)["message"]
    fits = post(live, "/v1/completions", json={**body, "prompt": ["a", "b"]})
    assert fits.status_code == 200 and len(fits.json()["choices"]) == 4


def test_more_than_2048_embedding_inputs_is_400(live):
    r = post(live, "/v1/embeddings", json={"model": "smollm2", "input": ["a"] * 2049})
    assert r.status_code == 400 and "2048" in error_of(r)["message"]


def test_the_server_is_still_up_after_all_that(live):
    r = post(live, CHAT, json=OK)
    assert r.status_code == 200
    assert httpx.get(f"{live.url}/health", timeout=60).status_code == 200


def test_bodies_without_a_json_content_type_are_read_as_json(live):
    """`curl -d '{...}'` sends application/x-www-form-urlencoded; Ollama accepts it."""
    body = (
        b'{"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], '
        b'"stream": false, "options": {"num_predict": 8}}'  # short: the parsing is the point
    )
    form = {"content-type": "application/x-www-form-urlencoded"}
    r = post(live, "/api/chat", content=body, headers=form)
    assert r.status_code == 200
    assert r.json()["done"] is True

"""What evaluation clients need from the server: vLLM's tokenizer routes and exact offsets."""

from __future__ import annotations

import ast
import json

import httpx


def post(live, path: str, body: dict) -> dict:
    r = httpx.post(f"{live.url}{path}", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def test_tokenize_in_both_shapes(live):
    llama = post(live, "/tokenize", {"content": "a cup of tea"})
    vllm = post(live, "/tokenize", {"prompt": "a cup of tea", "add_special_tokens": False})
    assert llama["tokens"] == vllm["tokens"] and vllm["count"] == len(vllm["tokens"]) > 0
    assert vllm["max_model_len"] == 2048
    back = post(live, "/detokenize", {"tokens": vllm["tokens"]})
    assert back["prompt"] == back["content"] == "a cup of tea"


def test_tokenize_needs_exactly_one_text(live):
    for body in ({}, {"content": "a", "prompt": "b"}):
        r = httpx.post(f"{live.url}/tokenize", json=body, timeout=30)
        assert r.status_code == 400
        assert "either 'content' or 'prompt'" in r.json()["error"]["message"]


def test_tokenizer_info_as_vllm_gives_it(live):
    r = httpx.get(f"{live.url}/tokenizer_info", timeout=30)
    assert r.status_code == 200
    info = r.json()
    assert info["eos_token"] == "<|im_end|>"
    assert "<|im_start|>" in info["chat_template"]
    assert info["model_max_length"] == 2048 and info["vocab_size"] == 49152
    eos_id = post(live, "/tokenize", {"prompt": info["eos_token"]})["tokens"]
    assert len(eos_id) == 1  # what lm-eval reads as eos_token_id


def token_bytes(token: str) -> bytes:
    if token.startswith("bytes:"):
        return ast.literal_eval("b'" + token[len("bytes:") :] + "'")
    return token.encode("utf-8")


def test_echoed_offsets_index_the_returned_text_for_chinese(live):
    """Offsets count characters of the text as returned; partial UTF-8 tokens keep bytes."""
    prompt = "中国的首都 is Beijing"
    body = {
        "model": "smollm2",
        "prompt": prompt,
        "echo": True,
        "logprobs": 1,
        "max_tokens": 3,
        "temperature": 0,
    }
    choice = post(live, "/v1/completions", body)["choices"][0]
    text, lp = choice["text"], choice["logprobs"]
    assert text.startswith(prompt)
    assert b"".join(token_bytes(t) for t in lp["tokens"]) == text.encode("utf-8")
    assert not any("\ufffd" in t for t in lp["tokens"])
    assert any(t.startswith("bytes:") for t in lp["tokens"])  # 中 and friends span tokens
    for token, offset in zip(lp["tokens"], lp["text_offset"], strict=True):
        if not token.startswith("bytes:"):
            assert text[offset : offset + len(token)] == token, (token, offset)
    assert lp["text_offset"][lp["tokens"].index(" is")] == 5
    assert lp["text_offset"] == sorted(lp["text_offset"])


def test_streamed_offsets_match_the_plain_answer(live):
    body = {
        "model": "smollm2",
        "prompt": "写一首诗",
        "logprobs": 1,
        "max_tokens": 6,
        "temperature": 0,
    }
    plain = post(live, "/v1/completions", body)["choices"][0]["logprobs"]
    offsets, tokens = [], []
    with httpx.stream(
        "POST", f"{live.url}/v1/completions", json={**body, "stream": True}, timeout=60
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])["choices"][0]
                if chunk.get("logprobs"):
                    offsets += chunk["logprobs"]["text_offset"]
                    tokens += chunk["logprobs"]["tokens"]
    assert tokens == plain["tokens"] and offsets == plain["text_offset"]


def test_an_end_token_keeps_its_logprob_as_lm_eval_expects(live):
    """lm-eval asks for one token past the echoed prompt and drops the last logprob; when
    that token ends generation, its logprob must still be there (as vLLM gives it)."""
    eos = post(live, "/tokenize", {"prompt": "<|im_end|>"})["tokens"][0]
    context = post(live, "/tokenize", {"prompt": "Question: tea or coffee?\nAnswer:"})["tokens"]
    continuation = post(live, "/tokenize", {"prompt": " tea"})["tokens"]
    ids = context + continuation
    base = {"model": "smollm2", "prompt": ids, "echo": True, "logprobs": 1, "temperature": 0}
    forced = post(
        live, "/v1/completions", {**base, "max_tokens": 1, "logit_bias": {str(eos): 100}}
    )["choices"][0]
    assert forced["finish_reason"] == "stop"
    lps = forced["logprobs"]["token_logprobs"]
    assert len(lps) == len(ids) + 1 and isinstance(lps[-1], float)
    scored = post(live, "/v1/completions", {**base, "max_tokens": 0})["choices"][0]
    expected = sum(scored["logprobs"]["token_logprobs"][len(context) :])
    assert sum(lps[len(context) : -1]) == expected != 0.0

"""Log-likelihood and embeddings through the engine, on the real model."""

from __future__ import annotations

import math

import llama_cpp
import pytest

from danlu import InvalidRequest
from danlu.engine.llamacpp.machine import resolve_repack
from tests.conftest import smollm2_path


def test_greedy_continuation_scores_as_greedy(model):
    context = "1, 2, 3, 4,"
    greedy = model.generate(context, temperature=0, max_tokens=3)
    scored = model.loglikelihood(context, greedy.text)
    assert scored.is_greedy
    assert len(scored.token_logprobs) == 3
    assert math.isclose(scored.logprob, sum(scored.token_logprobs))
    assert all(lp <= 0 for lp in scored.token_logprobs)


def test_likely_continuation_beats_unlikely(model):
    likely = model.loglikelihood("1, 2, 3, 4,", " 5")
    unlikely = model.loglikelihood("1, 2, 3, 4,", " banana")
    assert likely.logprob > unlikely.logprob
    assert not unlikely.is_greedy


def test_scores_do_not_depend_on_cache_state(model):
    first = model.loglikelihood("The sky is", " blue")
    model.generate("Something else entirely", temperature=0, max_tokens=3)
    again = model.loglikelihood("The sky is", " blue")
    assert math.isclose(first.logprob, again.logprob, rel_tol=1e-4)


def same_weights_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """llama_cpp.Llama loads with llama.cpp's default model params, which repack weights;
    give it the session model's repack setting instead (the machine rule: off on a CPU with
    AMX, whose repacked matmul dies by SIGILL, llama.cpp #20824)."""
    defaults = llama_cpp.llama_cpp.llama_model_default_params

    def as_danlu_loads():
        params = defaults()
        params.use_extra_bufts = resolve_repack(None)
        return params

    monkeypatch.setattr(llama_cpp.llama_cpp, "llama_model_default_params", as_danlu_loads)


def mean_pooled(text: str) -> list[float]:
    """The text's embedding computed apart from danlu: llama-cpp-python's own Llama with no
    pooling gives one vector per token; their mean, L2-normalised, is what danlu promises.
    Flash attention on, as the session model resolved it (it moves the sums ~1e-3)."""
    llm = llama_cpp.Llama(
        model_path=str(smollm2_path()),
        embedding=True,
        pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE,
        flash_attn=True,
        n_ctx=64,
        n_threads=2,
        verbose=False,
    )
    try:
        per_token = llm.embed(text)  # [n_tokens][n_embd]
    finally:
        llm.close()
    mean = [sum(column) / len(per_token) for column in zip(*per_token, strict=True)]
    norm = math.sqrt(sum(x * x for x in mean))
    return [x / norm for x in mean]


def test_embeddings_are_mean_pooled_normalised_and_deterministic(model, monkeypatch):
    same_weights_layout(monkeypatch)
    texts = ["a cat sat on the mat", "quarterly tax report"]
    a, b, a2 = model.embed([*texts, texts[0]])
    assert len(a) == 576
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    assert a == pytest.approx(a2, abs=1e-5)
    assert model.engine_facts["flash_attn"] == "on"
    apart = [mean_pooled(text) for text in texts]
    assert a == pytest.approx(apart[0], abs=1e-5) and b == pytest.approx(apart[1], abs=1e-5)
    cosine = sum(x * y for x, y in zip(a, b, strict=True))
    assert cosine == pytest.approx(sum(x * y for x, y in zip(*apart, strict=True)), abs=1e-5)


def test_empty_continuation_is_refused(model):
    with pytest.raises(InvalidRequest):
        model.engine.loglikelihood([1, 2], [])


def test_a_score_does_not_depend_on_what_was_scored_before(model):
    """No prefix reuse in scoring: batch shapes move llama.cpp's sums, so scores would drift."""
    context = "Question: What colour is the sky?\nAnswer:"
    first = model.loglikelihood(context, " blue").token_logprobs
    model.loglikelihood(context, " green")  # shares the whole context
    model.loglikelihood(context + " a deep shade of", " blue")
    assert model.loglikelihood(context, " blue").token_logprobs == first

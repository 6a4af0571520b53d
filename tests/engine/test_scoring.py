"""Log-likelihood and embeddings through the engine, on the real model."""

from __future__ import annotations

import math

import pytest

from danlu import InvalidRequest


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


def test_embeddings_are_normalised_and_deterministic(model):
    a, b, a2 = model.embed(["a cat sat on the mat", "quarterly tax report", "a cat sat on the mat"])
    assert len(a) == 576
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    assert a == pytest.approx(a2, abs=1e-5)
    assert sum(x * y for x, y in zip(a, b, strict=True)) < 0.9999


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

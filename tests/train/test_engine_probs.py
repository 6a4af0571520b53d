"""The transformers backend's post_sampling_probs: the distribution its own chain draws from."""

from __future__ import annotations

import math

import pytest

from danlu.engine.base import Completion
from danlu.engine.sampling import SamplingParams


def test_post_chain_candidates_are_the_survivors_and_the_pick_is_unchanged(engine):
    prompt = engine.tokenize("<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n")
    params = SamplingParams(temperature=1.0, top_k=3, seed=11, max_tokens=8)
    plain = Completion.collect(engine.stream(prompt, params))
    probed = params.model_copy(update={"logprobs": 5, "post_sampling_probs": True})
    done = Completion.collect(engine.stream(prompt, probed))
    assert done.token_ids == plain.token_ids  # asking for the numbers changes no pick
    for item in done.logprobs:
        assert 1 <= len(item.top) <= 3
        assert sum(math.exp(lp) for _, lp in item.top) == pytest.approx(1.0, abs=1e-5)
        assert item.token in {t for t, _ in item.top}
    raw = Completion.collect(engine.stream(prompt, params.model_copy(update={"logprobs": 5})))
    assert all(len(item.top) == 5 for item in raw.logprobs)  # the model's own: no truncation


def test_greedy_reports_the_argmax_alone(engine):
    prompt = engine.tokenize("Once upon a time")
    params = SamplingParams(temperature=0, max_tokens=4, logprobs=5, post_sampling_probs=True)
    done = Completion.collect(engine.stream(prompt, params))
    assert all(item.top == ((item.token, 0.0),) and item.logprob == 0.0 for item in done.logprobs)

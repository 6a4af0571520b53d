"""Continuous batching: many slots, one context; results must not depend on the company."""

from __future__ import annotations

import threading

import pytest

from danlu.engine.base import Completion, LoadOptions
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.engine.sampling import SamplingParams
from tests.conftest import smollm2_path
from tests.near_ties import assert_same_steps_up_to_a_near_tie

PROMPTS = [
    f"<|im_start|>user\nWrite one sentence about the number {i}.<|im_end|>\n<|im_start|>assistant\n"
    for i in range(6)
]
GREEDY = SamplingParams(temperature=0, max_tokens=32, logprobs=2)


def assert_same_answer_up_to_a_near_tie(solo: Completion, batched: Completion) -> None:
    """llama.cpp's sums come out slightly differently in a batch of another shape, and on a
    near-tie that flips the greedy pick (tests/near_ties.py)."""
    assert_same_steps_up_to_a_near_tie(steps(solo), steps(batched))


def steps(run: Completion) -> list:
    return [
        (t, lp.logprob, dict(lp.top)) for t, lp in zip(run.token_ids, run.logprobs, strict=False)
    ]


@pytest.fixture(scope="module")
def engine():
    eng = LlamaCppEngine(smollm2_path(), LoadOptions(n_ctx=512, threads=2, parallel=4))
    yield eng
    eng.close()


def test_greedy_output_is_the_same_alone_and_batched(engine):
    tokens = [engine.tokenize(p) for p in PROMPTS]
    alone = [Completion.collect(engine.stream(t, GREEDY)) for t in tokens]
    engine.reset()
    together: list = [None] * len(tokens)

    def run(i: int) -> None:
        together[i] = Completion.collect(engine.stream(tokens[i], GREEDY))

    # daemons: a request stuck after a failure cannot keep the test run alive
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(tokens))]
    engine.start_background()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
    finally:
        engine.scheduler.stop()  # the other tests step the scheduler on their own thread
    for solo, batched in zip(alone, together, strict=True):  # 6 requests on 4 slots
        assert_same_answer_up_to_a_near_tie(solo, batched)


def test_a_consumer_that_stops_frees_its_slot(engine):
    stream = engine.stream(engine.tokenize(PROMPTS[0]), SamplingParams(max_tokens=200))
    next(stream)
    assert engine.scheduler.active == 1
    stream.close()
    engine.scheduler.step()
    assert engine.scheduler.active == 0


def test_prefix_is_reused_from_the_best_matching_slot(engine):
    engine.reset()  # no slot or RAM-cached state holds these prompts from earlier tests
    first = Completion.collect(engine.stream(engine.tokenize(PROMPTS[1]), GREEDY))
    other = Completion.collect(engine.stream(engine.tokenize(PROMPTS[2]), GREEDY))
    again = Completion.collect(engine.stream(engine.tokenize(PROMPTS[1]), GREEDY))
    assert again.usage.cached_tokens == first.usage.prompt_tokens - 1
    assert other.usage.cached_tokens < first.usage.prompt_tokens - 1
    assert again.token_ids == first.token_ids

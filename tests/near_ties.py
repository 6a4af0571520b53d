"""Comparing greedy answers that were computed with different batch shapes or caches.

llama.cpp's sums move by a few hundredths of a nat with the batch's shape and with a
prefix reused from a cache, which can flip a greedy pick between two nearly level tokens
(docs/architecture.md). Two such answers must be the same text, or part at a token where
the two likeliest were within NEAR_TIE of each other, which is checked here by scoring the
common prefix teacher-forced on the real model.
"""

from __future__ import annotations

NEAR_TIE = 0.25  # nats


def assert_same_up_to_a_near_tie(model, prompt: list[int], expected: str, got: str) -> None:
    """`got` is `expected`, or the two part where the model's two likeliest next tokens after
    `prompt` + their shared tokens were nearly level and each answer took one of them."""
    if got == expected:
        return
    a = model.engine.tokenize(expected, add_bos=False)
    b = model.engine.tokenize(got, add_bos=False)
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    taken = [t[k] for t in (a, b) if k < len(t)]  # one may have ended (end of text) here
    scored = model.engine.loglikelihood(prompt + a[:k], taken[:1], top=2)
    (first, lp1), (second, lp2) = scored.alternatives[0]
    assert set(taken) <= {first, second}, (k, expected, got, scored.alternatives[0])
    assert lp1 - lp2 < NEAR_TIE, (k, expected, got, scored.alternatives[0])


Step = tuple[int | str, float, dict]  # a token, its logprob, {token: logprob} of the likeliest


def assert_same_steps_up_to_a_near_tie(solo: list[Step], batched: list[Step]) -> None:
    """Two greedy runs, step by step: the same tokens with the same logprobs until they
    part, and they part only where the solo run had the two tokens nearly level. An answer
    mixed up with another slot's differs far more."""
    for k, ((a, logprob_a, ranked), (b, logprob_b, _)) in enumerate(
        zip(solo, batched, strict=False)
    ):
        if a != b:
            assert b in ranked and ranked[a] - ranked[b] < NEAR_TIE, (k, ranked)
            return
        assert abs(logprob_b - logprob_a) <= NEAR_TIE, (k, logprob_a, logprob_b)
    assert [s[0] for s in solo] == [s[0] for s in batched]

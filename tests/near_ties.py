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

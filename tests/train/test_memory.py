"""The memory estimate's figures, by the rules in train/memory.py's docstring, and the
refusal that names them. A round shape keeps each figure checkable by hand."""

from __future__ import annotations

import pytest

from danlu.train.errors import DoesNotFit
from danlu.train.memory import GIB, OVERHEAD, Estimate, Shape, estimate, require_fit

SHAPE = Shape(parameters=100_000_000, hidden=1000, layers=10, vocab=50_000)
TOKENS = 256  # a step's tokens: batch x longest sequence x sequences per example


@pytest.mark.parametrize(
    ("method", "weight_bytes", "checkpointing", "weights", "state", "per_token"),
    [
        # lora in fp32: 4 bytes a weight; adapters and their state 2% x 16 bytes
        ("lora", 4, False, 400_000_000, 32_000_000, 10 * 1000 * 64 + 50_000 * 12),
        # bf16 weights, checkpointing keeps a quarter of the layer activations
        ("lora", 2, True, 200_000_000, 32_000_000, 10 * 1000 * 16 + 50_000 * 12),
        # full: + 4 (gradient) + 8 (Adam) bytes a parameter
        ("full", 4, False, 400_000_000, 1_200_000_000, 10 * 1000 * 64 + 50_000 * 12),
        # qlora: ~0.6 bytes a weight whatever the precision asked
        ("qlora", 2, False, 60_000_000, 32_000_000, 10 * 1000 * 64 + 50_000 * 12),
    ],
)
def test_each_figure_follows_its_rule(
    method, weight_bytes, checkpointing, weights, state, per_token
):
    got = estimate(
        SHAPE,
        method=method,
        weight_bytes=weight_bytes,
        tokens_per_step=TOKENS,
        checkpointing=checkpointing,
    )
    assert (got.weights, got.training_state, got.activations) == (
        weights,
        state,
        per_token * TOKENS,
    )
    assert got.total == weights + state + per_token * TOKENS + OVERHEAD


def test_activations_grow_with_the_tokens_of_a_step():
    one, two = (
        estimate(SHAPE, method="lora", weight_bytes=4, tokens_per_step=n, checkpointing=False)
        for n in (TOKENS, 2 * TOKENS)
    )
    assert two.activations == 2 * one.activations
    assert (two.weights, two.training_state) == (one.weights, one.training_state)


def test_the_refusal_names_every_figure_and_fits_exactly_at_the_total():
    needed = Estimate(weights=2 * GIB, training_state=GIB // 2, activations=3 * GIB)
    require_fit(needed, needed.total, "this machine")  # exactly enough: no refusal
    with pytest.raises(DoesNotFit) as refused:
        require_fit(needed, needed.total - 1, "this machine")
    message = str(refused.value)
    assert message.startswith("this run needs about 6.5 GiB (weights 2.0 GiB, ")
    assert "gradients and optimizer 0.5 GiB, activations 3.0 GiB, libraries 1.0 GiB)" in message
    assert message.endswith("but this machine has 6.5 GiB free")

"""Packing and a held-out split reach TRL: packed batches are other sequences than plain
ones, and a held-out share of the rows gives an evaluation loss in the run's metrics."""

from __future__ import annotations

import json
import math

import pytest

from danlu.train import SFTSettings, sft
from tests.train.conftest import DATA

TINY = {
    "data": str(DATA / "facts.jsonl"),
    "max_steps": 2,
    "batch_size": 2,
    "max_length": 96,
    "lora_r": 4,
    "lora_alpha": 8,
    "save_steps": 1000,
}


@pytest.mark.slow
def test_packing_reaches_the_trainer(home):
    plain = sft(SFTSettings(**TINY), home).metrics["num_input_tokens_seen"]
    again = sft(SFTSettings(**TINY), home).metrics["num_input_tokens_seen"]
    packed = sft(SFTSettings(**TINY, packing=True), home).metrics["num_input_tokens_seen"]
    # the same seed sees the same tokens; packed batches are made of other sequences. (That
    # packing does not raise the real tokens per step here is open: see docs/train.md.)
    assert plain == again > 0
    assert packed != plain and packed > 0


@pytest.mark.slow
def test_a_held_out_split_logs_an_evaluation_loss(home):
    result = sft(SFTSettings(**TINY, eval_split=0.25), home)
    rows = [
        json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    evals = [r["eval_loss"] for r in rows if "eval_loss" in r]
    assert evals and all(math.isfinite(v) and v > 0 for v in evals)
    assert any("loss" in r and "eval_loss" not in r for r in rows)  # training loss too

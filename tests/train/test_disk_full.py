"""A full disk while a run caches its dequantized base: one line naming the folder and the
space, and no half-written cache that a later run would trust (a real tmpfs, filled)."""

from __future__ import annotations

import json

import pytest

from tests.train.conftest import DATA
from tests.train.small_disk import on_small_disk


@pytest.mark.slow
def test_a_full_disk_while_caching_the_base_is_one_line_and_leaves_nothing(danlu_home):
    cache = danlu_home / "cache"  # on 60 MB, as in issue 21; the float32 base needs ~540 MB
    data = str(DATA / "facts.jsonl")
    args = ["train", "sft", "--data", data, "--run", "full", "--max-steps", "1"]
    outcome = on_small_disk(cache, 60, args, danlu_home)
    assert outcome.code == 1 and "Traceback" not in outcome.err
    errors = [line for line in outcome.err.splitlines() if line.startswith("error:")]
    assert errors == [outcome.err.strip().splitlines()[-1]]  # one line, the last
    (error,) = errors
    assert f"the disk under {cache / 'dequantized'} is full" in error
    assert "MB free, about 538" in error and "MB needed" in error and "intact" in error
    assert outcome.left == ["dequantized"]  # no base, no staging folder left to trust
    record = json.loads((danlu_home / "runs" / "full" / "run.json").read_text())
    assert record["status"] == "failed"

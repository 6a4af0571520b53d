"""A short DPO run moves the chosen/rejected reward margin up."""

from __future__ import annotations

import pytest

from danlu.train import DPOSettings, dpo
from danlu.train.runs import read_metrics, read_record
from tests.train.conftest import DATA


@pytest.mark.slow
def test_dpo_raises_the_reward_margin(home):
    settings = DPOSettings(
        data=str(DATA / "prefs.jsonl"),
        max_steps=4,
        batch_size=4,
        learning_rate=5e-4,
        lora_r=8,
        lora_dropout=0.0,
        max_length=64,
        save_steps=1000,
    )
    result = dpo(settings, home)
    margins = [
        row["rewards/margins"] for row in read_metrics(result.run_dir) if "rewards/margins" in row
    ]
    assert len(margins) == 4
    assert margins[-1] > margins[0] and margins[-1] > 0
    assert read_record(result.run_dir).stage == "dpo"
    assert (result.run_dir / "adapter" / "adapter_config.json").is_file()

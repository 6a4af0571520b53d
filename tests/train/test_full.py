"""Full fine-tuning on plain text (continued pre-training): the whole model is saved and
loads for chatting like a LoRA run."""

from __future__ import annotations

import json

import pytest

import danlu
from danlu.train import SFTSettings, sft
from danlu.train.runs import read_record
from tests.train.conftest import DATA


@pytest.mark.slow
def test_full_fine_tuning_on_text_saves_a_whole_model_that_loads(home):
    settings = SFTSettings(
        data=str(DATA / "notes.jsonl"),
        method="full",
        max_steps=2,
        batch_size=2,
        max_length=64,
        learning_rate=1e-5,
        save_steps=1000,
    )
    result = sft(settings, home)
    record = read_record(result.run_dir)
    assert record.output == "model" and record.steps == 2
    assert record.data["format"] == "text" and record.data["tokens"]["cut"] == 0
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["files"][0] == "model/model.safetensors"
    with danlu.load(str(result.run_dir), settings=home, n_ctx=128) as model:
        assert model.engine.n_vocab == 49152
        done = model.generate("Quillhaven is", temperature=0, max_tokens=4)
        assert done.usage.completion_tokens >= 1

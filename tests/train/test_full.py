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
    # two steps moved the weights: most tensors differ from the base's (lr 1e-5 is tiny,
    # but fp32 keeps the change), and none was left out of the saved model
    from safetensors.torch import load_file

    (base_dir,) = (home.cache_dir / "dequantized").iterdir()
    base = load_file(base_dir / "model.safetensors")
    trained = load_file(result.run_dir / "model" / "model.safetensors")
    assert trained.keys() == base.keys()
    changed = [k for k in base if not base[k].float().equal(trained[k].float())]
    assert len(changed) > len(base) // 2, (len(changed), len(base))
    with danlu.load(str(result.run_dir), settings=home, n_ctx=128) as model:
        assert model.engine.n_vocab == 49152
        done = model.generate("Quillhaven is", temperature=0, max_tokens=4)
        assert done.usage.completion_tokens >= 1

"""Hugging Face dataset IDs as --data: a folder laid out exactly as huggingface_hub's cache
lays out a dataset repo stands in for the hub (nothing is downloaded), in offline mode."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from danlu.config import Settings
from danlu.errors import OfflineError
from danlu.evaluate import EvalSettings, ModelScorer, evaluate
from danlu.evaluate.runner import SAMPLES
from tests.store.store_helpers import write_hub_cache

ROWS = [
    {
        "question": "Which is a fruit?",
        "subject": "food",
        "choices": ["stone", "apple", "car", "cloud"],
        "answer": 1,
    },
    {
        "question": "Which one can fly?",
        "subject": "animals",
        "choices": ["bird", "fish", "worm", "snail"],
        "answer": 0,
    },
    {
        "question": "Which is a colour?",
        "subject": "food",
        "choices": ["bread", "milk", "red", "tea"],
        "answer": 2,
    },
]
DEV = [
    {
        "question": "Which is wet?",
        "subject": "food",
        "choices": ["water", "sand", "dust", "ash"],
        "answer": 0,
    }
]


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An offline hub cache holding org/mini-mmlu (Parquet, as cais/mmlu) and org/mini-qa
    (JSONL, letters for answers in a sub-folder split)."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    files = tmp_path / "files"
    files.mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), files / "test.parquet")
    pq.write_table(pa.Table.from_pylist(DEV), files / "dev.parquet")
    write_hub_cache(
        cache,
        "org/mini-mmlu",
        {
            "all/test-00000-of-00001.parquet": files / "test.parquet",
            "all/dev-00000-of-00001.parquet": files / "dev.parquet",
        },
        kind="datasets",
    )
    lettered = [{**r, "answer": "ABCD"[r["answer"]]} for r in ROWS]
    (files / "mc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lettered))
    write_hub_cache(cache, "org/mini-mc", {"data/test.jsonl": files / "mc.jsonl"}, kind="datasets")
    return cache


def samples(result) -> list[dict]:
    lines = (Path(result["run_dir"]) / SAMPLES).read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_a_parquet_hub_dataset_scores_as_mmlu_with_its_dev_split(hub, model, tmp_path):
    settings = EvalSettings(task="mmlu", data=Path("hf:org/mini-mmlu"), shots=1)
    result = evaluate(settings, ModelScorer(model), Settings(home=tmp_path / "home"))
    got = samples(result)
    assert [s["id"] for s in got] == [
        "test-00000-of-00001:1",
        "test-00000-of-00001:2",
        "test-00000-of-00001:3",
    ]
    assert [s["subject"] for s in got] == ["food", "animals", "food"]
    assert result["scores"]["overall"]["n"] == 3
    assert set(result["scores"]["subjects"]) == {"food", "animals"}
    assert str(hub) in result["settings"]["data"]  # the snapshot folder, not the ID
    # the dev row is the one-shot example: the same items scored 0-shot give other logprobs
    zero = samples(
        evaluate(
            EvalSettings(task="mmlu", data=Path("hf:org/mini-mmlu")),
            ModelScorer(model),
            Settings(home=tmp_path / "home"),
        )
    )
    assert [s["logprobs"] for s in got] != [s["logprobs"] for s in zero]


def test_letters_for_answers_and_subject_filters(hub, model, tmp_path):
    mc = evaluate(
        EvalSettings(task="mc", data=Path("hf:org/mini-mc")),
        ModelScorer(model),
        Settings(home=tmp_path),
    )
    assert mc["scores"]["overall"]["n"] == 3
    food = evaluate(
        EvalSettings(task="mmlu", data=Path("hf:org/mini-mmlu"), subjects=["food"]),
        ModelScorer(model),
        Settings(home=tmp_path),
    )
    assert food["scores"]["overall"]["n"] == 2


def test_a_dataset_missing_from_the_offline_cache_is_one_clear_error(hub, model, tmp_path):
    with pytest.raises(OfflineError, match=r"offline mode is on.*dataset org/nope"):
        evaluate(
            EvalSettings(task="mc", data=Path("hf:org/nope")),
            ModelScorer(model),
            Settings(home=tmp_path),
        )


def test_a_bad_answer_letter_names_its_file_and_row(hub, model, tmp_path):
    from danlu.errors import InvalidRequest

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**ROWS[0], "answer": "Z"}) + "\n")
    write_hub_cache(hub, "org/bad", {"test.jsonl": bad}, kind="datasets")
    with pytest.raises(InvalidRequest, match=r"test.jsonl line 1: 'answer' 'Z'"):
        evaluate(
            EvalSettings(task="mc", data=Path("hf:org/bad")),
            ModelScorer(model),
            Settings(home=tmp_path),
        )


def test_an_unknown_subject_names_the_ones_there(hub, model, tmp_path):
    from danlu.errors import InvalidRequest

    settings = EvalSettings(task="mmlu", data=Path("hf:org/mini-mmlu"), subjects=["nope"])
    with pytest.raises(InvalidRequest, match="no subject nope") as caught:
        evaluate(settings, ModelScorer(model), Settings(home=tmp_path))
    assert caught.value.hint == "subjects there: animals, food"

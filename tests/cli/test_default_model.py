"""DANLU_DEFAULT_MODEL reaches every command that takes a model (Settings.default_model, the
one source): here a copy of SmolLM2 under another name, seen by `data check`, `bench serve`
and `train` (each stopped before the costly part)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

import danlu as api
from danlu.config import Settings
from danlu.store import Catalog
from tests.conftest import smollm2_path

COPY = "house-model"


@pytest.fixture
def default_copy(danlu_home, monkeypatch) -> str:
    Catalog(Settings(home=danlu_home)).import_path(smollm2_path(), COPY)
    monkeypatch.setenv("DANLU_DEFAULT_MODEL", COPY)
    return COPY


@pytest.fixture
def chat_file(tmp_path):
    path = tmp_path / "chat.jsonl"
    row = {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    }
    path.write_text(json.dumps(row) + "\n")
    return path


def test_data_check_counts_tokens_with_the_default_model(
    danlu, default_copy, chat_file, monkeypatch
):
    loaded: list[str] = []
    load = api.load

    def spy(name, *args, **kwargs):
        loaded.append(name)
        return load(name, *args, **kwargs)

    monkeypatch.setattr(api, "load", spy)
    result = danlu("data", "check", str(chat_file), "--json")
    assert result.code == 0, result.err
    assert loaded == [COPY] and json.loads(result.out)["tokens"]["total"] > 0


def test_bench_serve_asks_for_the_default_model(danlu, default_copy, monkeypatch):
    sent = []
    monkeypatch.setattr("danlu.bench.load.bench_server", lambda s, progress: sent.append(s) or [])
    result = danlu("bench", "serve", "http://127.0.0.1:9", "--json")
    assert result.code == 0, result.err
    assert [s.model for s in sent] == [COPY]
    danlu("bench", "serve", "http://127.0.0.1:9", "--model", "other", "--json")
    assert sent[-1].model == "other"  # a flag still wins


def test_train_starts_from_the_default_model(danlu, default_copy, chat_file, monkeypatch):
    pytest.importorskip("trl", reason="the train extra is not installed")
    from danlu.train.settings import DPOSettings, SFTSettings

    assert SFTSettings(data="x").model == DPOSettings(data="x").model == COPY
    ran = []
    done = SimpleNamespace(id="r", steps=0, metrics={}, run_dir="runs/r")
    monkeypatch.setattr("danlu.train.runner.run", lambda s, *_, **__: ran.append(s) or done)
    result = danlu("train", "sft", "--data", str(chat_file))
    assert result.code == 0, result.err
    assert [s.model for s in ran] == [COPY]

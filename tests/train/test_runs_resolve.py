"""Run folders found by one resolver (Settings.find_folder), and the one --resume lookup
(train/runs.py) that the runner, the CLI and the page share. No model is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from danlu.config import Settings
from danlu.train.runs import (
    RunExists,
    RunNotFound,
    RunRecord,
    find_run,
    run_to_resume,
    settings_to_resume,
    write_record,
)
from danlu.train.settings import DPOSettings, SFTSettings


def _run(settings: Settings, run: str, stage: str, status: str, created: str) -> Path:
    folder = settings.runs_dir / run
    folder.mkdir(parents=True)
    record = RunRecord(
        id=run, stage=stage, status=status, created=created, updated=created,
        base_model={"name": "smollm2"}, data={}, template={}, versions={},
        settings={"data": "facts.jsonl", "max_steps": 7, "lora_r": 4, "stage": stage},
    )  # fmt: skip
    write_record(folder, record)
    return folder


def test_one_resolver_finds_a_run_by_id_by_home_relative_path_and_by_path(tmp_path, monkeypatch):
    settings = Settings(home=tmp_path / "home")
    folder = _run(settings, "r1", "sft", "finished", "2026-01-01T00:00:00+00:00")
    monkeypatch.chdir(tmp_path)
    assert settings.find_folder("r1", "run.json") == folder  # an id, under runs/
    assert settings.find_folder("runs/r1", "run.json") == settings.home / "runs" / "r1"
    assert settings.find_folder(str(folder), "manifest.json") is None  # no such file there
    assert find_run(str(folder), settings) == folder  # a path as given
    with pytest.raises(RunNotFound, match="no training run 'r2'"):
        find_run("r2", settings)


def test_resume_takes_the_newest_unfinished_run_of_the_stage(tmp_path):
    settings = Settings(home=tmp_path)
    _run(settings, "old", "sft", "interrupted", "2026-01-01T00:00:00+00:00")
    new = _run(settings, "new", "sft", "failed", "2026-01-02T00:00:00+00:00")
    _run(settings, "done", "sft", "finished", "2026-01-03T00:00:00+00:00")
    _run(settings, "pairs", "dpo", "interrupted", "2026-01-04T00:00:00+00:00")
    folder, record = run_to_resume(settings, "sft")
    assert (folder, record.id) == (new, "new")
    with pytest.raises(RunExists, match="run done has finished"):
        run_to_resume(settings, "sft", "done")
    with pytest.raises(RunNotFound) as other:
        run_to_resume(settings, "sft", "pairs")
    assert other.value.message == "run pairs is a dpo run, not sft"
    assert other.value.hint == "resume it with `danlu train dpo --resume --run pairs`"
    with pytest.raises(RunNotFound, match="no unfinished dpo run to resume"):
        run_to_resume(Settings(home=tmp_path / "empty"), "dpo")


def test_resumed_settings_are_the_runs_own_with_the_flags_given_over_them(tmp_path):
    settings = Settings(home=tmp_path)
    _run(settings, "r1", "sft", "interrupted", "2026-01-01T00:00:00+00:00")
    resumed = settings_to_resume(SFTSettings, {"resume": True, "max_steps": 9}, settings)
    assert isinstance(resumed, SFTSettings)
    assert (resumed.run, resumed.data, resumed.lora_r, resumed.max_steps) == (
        "r1", "facts.jsonl", 4, 9,
    )  # fmt: skip
    with pytest.raises(RunNotFound, match="no unfinished dpo run"):
        settings_to_resume(DPOSettings, {"resume": True}, settings)

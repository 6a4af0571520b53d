"""Bad input is refused with one clear line before any model loads or run folder appears."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from danlu.config import Settings
from danlu.train import DPOSettings, SFTSettings, sft
from danlu.train.errors import DoesNotFit, HardwareMissing
from danlu.train.owner import Owner
from danlu.train.runs import RunRecord, write_record
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture
from tests.train.conftest import DATA


def nothing_started(home: Path) -> bool:
    return not (home / "runs").exists() and not (home / "cache").exists()


def test_malformed_rows_are_listed_by_line(danlu, danlu_home):  # noqa: F811
    result = danlu("train", "sft", "--data", str(DATA / "bad.jsonl"))
    assert result.code == 1
    assert "4 of 5 rows are bad: line 2: missing 'output'; line 3: not valid JSON" in result.err
    assert "--skip-invalid" in result.err
    assert nothing_started(danlu_home)


def test_unknown_format(danlu, danlu_home):  # noqa: F811
    result = danlu("train", "sft", "--data", str(DATA / "unknown.jsonl"))
    assert result.code == 1 and "cannot tell the format" in result.err
    result = danlu("train", "sft", "--data", str(DATA / "facts.jsonl"), "--format", "orca")
    assert result.code == 1 and "unknown data format 'orca'" in result.err
    result = danlu("train", "dpo", "--data", str(DATA / "facts.jsonl"))
    assert result.code == 1 and "this stage trains on preference data" in result.err
    assert nothing_started(danlu_home)


def test_a_run_too_big_for_the_machine_is_refused_with_figures(danlu, danlu_home):  # noqa: F811
    result = danlu(
        "train",
        "sft",
        "--data",
        str(DATA / "facts.jsonl"),
        "--method",
        "full",
        "--batch-size",
        "4096",
        "--max-length",
        "8192",
    )
    assert result.code == 1
    assert "this run needs about" in result.err and "GiB free" in result.err
    assert "activations" in result.err and "--gradient-checkpointing" in result.err
    assert nothing_started(danlu_home)


def test_qlora_without_a_gpu(danlu, danlu_home):  # noqa: F811
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = danlu("train", "sft", "--data", str(DATA / "facts.jsonl"), "--method", "qlora")
    assert result.code == 1
    assert "QLoRA needs a CUDA GPU and bitsandbytes" in result.err
    assert "--method lora" in result.err
    assert nothing_started(danlu_home)


def test_resume_with_nothing_to_resume_says_what_to_do(danlu, danlu_home):  # noqa: F811
    for stage in ("sft", "dpo"):
        result = danlu("train", stage, "--resume")
        assert result.code == 1 and result.err.strip().splitlines() == [
            f"error: no unfinished {stage} run to resume (start one with "
            f"`danlu train {stage} --data FILE`; `danlu runs ls` lists the runs)"
        ]
    assert nothing_started(danlu_home)


def _record(home: Path, run: str, status: str, owner: Owner | None) -> None:
    settings = {"data": str(DATA / "facts.jsonl"), "max_steps": 1}
    stamp = "2026-01-01T00:00:00+00:00"
    record = RunRecord(
        id=run, stage="sft", status=status, created=stamp, updated=stamp, owner=owner,
        base_model={"name": "smollm2"}, data={}, template={}, settings=settings, versions={},
    )  # fmt: skip
    (home / "runs" / run).mkdir(parents=True)
    write_record(home / "runs" / run, record)


def test_a_run_being_trained_now_or_finished_is_not_resumed(danlu, danlu_home):  # noqa: F811
    _record(danlu_home, "live", "running", Owner.current())  # this test's own process
    _record(danlu_home, "done", "finished", None)
    live = danlu("train", "sft", "--resume", "--run", "live")
    assert live.code == 1
    assert f"run live is being trained now (process {os.getpid()} on" in live.err
    assert "running" in danlu("runs", "ls").out  # its owner lives: still running
    done = danlu("train", "sft", "--resume", "--run", "done")
    assert done.code == 1 and "run done has finished: there is nothing to resume" in done.err
    bare = danlu("train", "sft", "--resume")  # the live one is not taken for an unfinished one
    assert bare.code == 1 and "no unfinished sft run to resume" in bare.err
    assert not (danlu_home / "cache").exists()


def test_python_api_raises_the_typed_errors(danlu_home):
    home = Settings(home=danlu_home)
    with pytest.raises(DoesNotFit):
        sft(
            SFTSettings(
                data=str(DATA / "facts.jsonl"), method="full", batch_size=4096, max_length=8192
            ),
            home,
        )
    with pytest.raises(HardwareMissing):
        sft(SFTSettings(data=str(DATA / "facts.jsonl"), precision="fp16"), home)


def test_settings_reject_bad_values_and_recipes_fill_them(danlu, tmp_path):  # noqa: F811
    result = danlu("train", "sft", "--data", "x.jsonl", "--learning-rate", "-1")
    assert result.code == 1 and "learning_rate" in result.err
    result = danlu("train", "sft", "--data", "x.jsonl", "--method", "adapter")
    assert result.code == 1 and "method" in result.err
    recipe = SFTSettings.from_sources("smollm2-lora", data="d.jsonl", lora_r=4)
    assert (recipe.lora_r, recipe.learning_rate, recipe.data) == (4, 1e-3, "d.jsonl")
    dpo = DPOSettings.from_sources("smollm2-dpo", data="p.jsonl")
    assert dpo.beta == 0.1 and dpo.stage == "dpo"
    bad = tmp_path / "r.yaml"
    bad.write_text("lora_rank: 8\n")
    result = danlu("train", "sft", "--config", str(bad), "--data", "x.jsonl")
    assert result.code == 1 and "unknown parameter 'lora_rank'" in result.err

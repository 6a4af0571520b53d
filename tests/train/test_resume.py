"""A run killed with SIGKILL resumes from its last checkpoint and ends where an
uninterrupted run with the same seed ends, with the same losses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from danlu.train import SFTSettings, sft
from danlu.train.runs import reached_step, read_metrics, read_record
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture
from tests.train.conftest import DATA

TINY = {"max_steps": 4, "batch_size": 2, "max_length": 64, "lora_r": 4, "seed": 1}


def losses(run_dir: Path) -> list[float]:
    return [row["loss"] for row in read_metrics(run_dir) if "loss" in row]


def start_killable_run(home: Path) -> subprocess.Popen:
    args = [
        "train",
        "sft",
        "--data",
        str(DATA / "facts.jsonl"),
        "--run",
        "broken",
        "--save-steps",
        "1",
    ]
    args += [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    code = f"from danlu.cli.main import main; main({args!r})"
    env = {**os.environ, "DANLU_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.DEVNULL)


def kill_after_checkpoint(proc: subprocess.Popen, checkpoint: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not (checkpoint / "trainer_state.json").is_file():
        assert proc.poll() is None, "the run ended before its checkpoint"
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(home, danlu, monkeypatch):  # noqa: F811
    straight = sft(SFTSettings(data=str(DATA / "facts.jsonl"), run="straight", **TINY), home)
    proc = start_killable_run(home.home)
    broken = home.home / "runs" / "broken"
    kill_after_checkpoint(proc, broken / "checkpoints" / "checkpoint-2")
    written = json.loads((broken / "run.json").read_text())
    assert written["status"] == "running"  # killed: it could not say otherwise
    assert written["owner"]["pid"] == proc.pid  # but it named its process, which is gone
    reached = reached_step(broken)
    assert reached >= 2 and read_record(broken).status == "interrupted"
    assert read_record(broken).steps == reached

    monkeypatch.setenv("DANLU_HOME", str(home.home))
    listed = danlu("runs", "ls")
    assert f"interrupted at step {reached}" in listed.out, listed.out
    assert f"interrupted at step {reached}" in danlu("runs", "show", "broken").out
    refused = danlu("export", "broken", "--name", "x")  # export treats it as --resume does
    assert refused.code == 1 and refused.err.strip().splitlines() == [
        f"error: run broken was interrupted at step {reached}: it has no result to export "
        "(resume it with `danlu train sft --run broken --resume`, then export it)"
    ]
    result = danlu("train", "sft", "--resume")  # the newest unfinished run, its own settings
    assert result.code == 0, result.err
    record = read_record(broken)
    assert record.status == "finished" and record.steps == straight.steps == 4
    assert losses(broken) == pytest.approx(losses(straight.run_dir), rel=1e-4)
    assert json.loads((broken / "run.json").read_text())["settings"]["save_steps"] == 1

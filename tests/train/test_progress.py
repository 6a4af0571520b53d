"""A run's steps reported as progress events and drawn by the CLI's bar with loss,
learning rate, tokens/s and ETA, and every logged step in metrics.jsonl."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from danlu.train.runs import read_metrics
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture


def test_steps_reported_drawn_and_recorded(tmp_path: Path):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from danlu.cli.progress import bar
    from danlu.train.progress import RunProgress, drop_metrics_after

    screen, events = io.StringIO(), []
    console = Console(file=screen, force_terminal=True, width=120)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    state, control = TrainerState(max_steps=3), TrainerControl()
    with bar("steps", console=console) as draw:

        def tell(label: str, done: int, total: int | None) -> None:
            events.append((label, done, total))
            draw(label, done, total)

        progress = RunProgress(tmp_path, tell)
        progress.on_train_begin(args, state, control)
        for step in (1, 2, 3):
            state.global_step, state.num_input_tokens_seen = step, 100 * step
            progress.on_step_end(args, state, control)
            logs = {"loss": 2.0 / step, "learning_rate": 1e-3}
            progress.on_log(args, state, control, logs=logs)
    assert events[0] == ("training", 0, 3)
    label, done, total = events[-1]
    assert (done, total) == (3, 3)
    assert label.startswith("training · loss 0.667 · lr 1.0e-03 · ") and label.endswith(" tok/s")
    shown = screen.getvalue()
    assert "loss 0.667" in shown and "tok/s" in shown and "3/3" in shown
    # the rate column: thousands of steps a second here (no model), which rich may cut
    # short at the column's edge ('5366.… steps/s' over two lines), so only its unit
    assert "steps" in shown.split("3/3", 1)[1]
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [1, 2, 3] and rows[0]["loss"] == 2.0
    assert rows[-1]["tokens_seen"] == 300 and rows[-1]["tokens_per_s"] > 0
    drop_metrics_after(tmp_path, 1)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1]


def test_runs_ls_and_show_read_the_records(danlu, danlu_home):  # noqa: F811
    from danlu.config import Settings
    from danlu.train.runs import RunRecord, new_run_id, now, write_record

    run_id = new_run_id("sft", "smollm2")
    folder = Settings(home=danlu_home).runs_dir / run_id
    folder.mkdir(parents=True)
    record = RunRecord(
        id=run_id,
        stage="sft",
        status="finished",
        created=now(),
        updated=now(),
        steps=27,
        base_model={"name": "smollm2", "format": "gguf", "sha256": "ab" * 32},
        data={"source": "/somewhere/facts.jsonl", "format": "alpaca", "sha256": "cd" * 32},
        template={"name": "gguf", "source": "...", "stop": ["<|im_end|>"]},
        settings={"lora_r": 8},
        versions={"trl": "1.0"},
        metrics={"train_loss": 0.378},
        output="adapter",
    )
    write_record(folder, record)
    listed = danlu("runs", "ls")
    assert listed.code == 0
    assert run_id in listed.out and "finished" in listed.out and "0.378" in listed.out
    shown = danlu("runs", "show", run_id)
    assert shown.code == 0 and "base model: smollm2" in shown.out and "lora_r=8" in shown.out
    assert danlu("runs", "show", "nope").code == 1

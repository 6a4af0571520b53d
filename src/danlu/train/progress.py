"""A TrainerCallback that shows the run and records it.

On a terminal: a rich progress bar with loss, learning rate, tokens/s and ETA (stderr).
Always: each logged step appended to metrics.jsonl, which `danlu runs show` and the
loss curve read. Imported only inside a run (it subclasses a transformers class).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from transformers import TrainerCallback

from danlu.train.runs import METRICS_FILE

KEPT = (
    "loss",
    "eval_loss",
    "learning_rate",
    "grad_norm",
    "epoch",
    "rewards/margins",
    "rewards/accuracies",
    "rewards/chosen",
    "rewards/rejected",
    "train_loss",
)


class RunProgress(TrainerCallback):
    """Progress bar plus metrics.jsonl for one run."""

    def __init__(self, run_dir: Path, *, console: Console | None = None) -> None:
        self.metrics_path = run_dir / METRICS_FILE
        self.console = console or Console(stderr=True)
        self.bar: Progress | None = None
        self.task: Any = None
        self._mark: tuple[float, int] | None = None  # (time, tokens seen) at the last log
        self.tokens_per_s = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        columns = (
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            "loss {task.fields[loss]} · lr {task.fields[lr]} · {task.fields[tps]} tok/s · eta",
            TimeRemainingColumn(),
        )
        disabled = not self.console.is_terminal
        self.bar = Progress(*columns, console=self.console, disable=disabled, transient=False)
        self.bar.start()
        self.task = self.bar.add_task(
            "training",
            total=state.max_steps,
            completed=state.global_step,
            loss="-",
            lr="-",
            tps="-",
        )
        self._mark = (time.perf_counter(), state.num_input_tokens_seen)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        self._rate(state)
        row = {"step": state.global_step, "time": round(time.time(), 3)}
        row.update({k: _number(v) for k, v in logs.items() if k in KEPT})
        if "loss" in logs:
            row["tokens_per_s"] = round(self.tokens_per_s, 1)
            row["tokens_seen"] = state.num_input_tokens_seen
        with self.metrics_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.bar is not None and "loss" in logs:
            lr = logs.get("learning_rate", 0.0)
            self.bar.update(
                self.task,
                loss=f"{logs['loss']:.3f}",
                lr=f"{lr:.1e}",
                tps=f"{self.tokens_per_s:.0f}",
            )

    def _rate(self, state) -> None:
        now, seen = time.perf_counter(), state.num_input_tokens_seen
        if self._mark is not None and now > self._mark[0] and seen > self._mark[1]:
            self.tokens_per_s = (seen - self._mark[1]) / (now - self._mark[0])
        self._mark = (now, seen)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.stop()


def _number(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def drop_metrics_after(run_dir: Path, step: int) -> None:
    """Forget logged steps beyond a checkpoint: a resumed run logs them again."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return
    kept = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line).get("step", 0) <= step
    ]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

"""A TrainerCallback that records the run and tells how far it has come.

Each logged step is appended to metrics.jsonl, which `danlu runs show` and the loss curve
read. Each step is also reported as a `Progress` event ("training · loss 0.412 · lr
1.0e-03 · 850 tok/s", step, steps): the CLI draws it as a bar with its ETA. Imported only
inside a run (it subclasses a transformers class).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from danlu.progress import Progress
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
    """metrics.jsonl for one run, and its steps told to `progress`."""

    def __init__(self, run_dir: Path, progress: Progress | None = None) -> None:
        self.metrics_path = run_dir / METRICS_FILE
        self.progress = progress
        self.label = "training"
        self._mark: tuple[float, int] | None = None  # (time, tokens seen) at the last log
        self.tokens_per_s = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._mark = (time.perf_counter(), state.num_input_tokens_seen)
        self._tell(state)

    def on_step_end(self, args, state, control, **kwargs):
        self._tell(state)

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
        if "loss" in logs:
            lr = logs.get("learning_rate", 0.0)
            self.label = (
                f"training · loss {logs['loss']:.3f} · lr {lr:.1e} · {self.tokens_per_s:.0f} tok/s"
            )
            self._tell(state)

    def _tell(self, state) -> None:
        if self.progress is not None:
            self.progress(self.label, state.global_step, state.max_steps or None)

    def _rate(self, state) -> None:
        now, seen = time.perf_counter(), state.num_input_tokens_seen
        if self._mark is not None and now > self._mark[0] and seen > self._mark[1]:
            self.tokens_per_s = (seen - self._mark[1]) / (now - self._mark[0])
        self._mark = (now, seen)


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

"""Run directories: `DANLU_HOME/runs/<run-id>/`, what each holds, and listing them.

run.json         the record: stage, status, base model, data hash, template, settings,
                 library versions, final metrics (rewritten atomically as it changes)
manifest.json    a store manifest, so `danlu.load(run dir)` / `danlu run` can chat with it
metrics.jsonl    one line per logged step;  loss.png  the curve, written at the end
checkpoints/     checkpoint-<step>/ folders for --resume
adapter/ or model/   the result: a peft adapter, or a whole model (full fine-tuning)
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from danlu.atomic import write_text_atomic
from danlu.config import Settings
from danlu.train.errors import RunExists, RunNotFound
from danlu.train.owner import Owner
from danlu.train.settings import TrainSettings

__all__ = ["RunExists", "RunNotFound", "RunRecord", "run_to_resume", "settings_to_resume"]

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
CURVE_FILE = "loss.png"

Status = Literal["running", "finished", "failed", "interrupted"]


class RunRecord(BaseModel):
    """Everything that says what a run did and how to repeat it."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="Run id: also the folder name under runs/.")
    stage: str = Field(description="sft or dpo.")
    status: Status = Field("running", description="running, finished, failed or interrupted.")
    created: str = Field(description="Start time (ISO-8601, UTC).")
    updated: str = Field(description="Last change of this record (ISO-8601, UTC).")
    base_model: dict[str, Any] = Field(description="name, format, sha256, source, folder.")
    data: dict[str, Any] = Field(description="source, format, sha256, rows, examples, tokens.")
    template: dict[str, Any] = Field(description="name, source and stop strings of the template.")
    settings: dict[str, Any] = Field(description="The stage settings the run was started with.")
    versions: dict[str, str] = Field(description="Library versions (torch, transformers, ...).")
    output: str | None = Field(None, description="'adapter' or 'model', once written.")
    steps: int = Field(0, description="Optimizer steps done (so far, until it finishes).")
    metrics: dict[str, float] = Field(default_factory=dict, description="Final metrics.")
    owner: Owner | None = Field(
        None, description="The process that trains it (or last did); see train/owner.py."
    )

    @property
    def training_now(self) -> bool:
        """Whether its owner is training it at this moment (as far as can be told)."""
        return self.status == "running" and self.owner is not None

    def state(self) -> str:
        """The status for people: "interrupted at step 12", "running", "finished"."""
        if self.status in ("interrupted", "failed"):
            return f"{self.status} at step {self.steps}"
        return self.status


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_id(stage: str, model: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{stage}-{model}-{secrets.token_hex(2)}"


def write_record(run_dir: Path, record: RunRecord) -> None:
    record.updated = now()
    write_text_atomic(run_dir / RUN_FILE, record.model_dump_json(indent=2) + "\n")


def read_record(run_dir: Path) -> RunRecord:
    """The record as it stands now: a "running" run whose owner is gone was interrupted,
    and an unfinished run counts the steps it reached (its metrics and checkpoints)."""
    path = run_dir / RUN_FILE
    try:
        record = RunRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise RunNotFound(f"{run_dir} is not a readable run ({str(exc).splitlines()[0]})") from None
    if record.status == "running" and record.owner is not None and record.owner.gone():
        record.status = "interrupted"  # killed outright: it could not say so itself
    if record.status != "finished":
        record.steps = max(record.steps, reached_step(run_dir))
    return record


def reached_step(run_dir: Path) -> int:
    """The last step an unfinished run logged or saved a checkpoint at."""
    logged = [int(row["step"]) for row in read_metrics(run_dir) if "step" in row]
    checkpoint = last_checkpoint(run_dir)
    saved = int(checkpoint.name.split("-")[-1]) if checkpoint else 0
    return max([saved, *logged])


def find_run(ref: str, settings: Settings) -> Path:
    """A run folder by id (under runs/), or by path."""
    folder = settings.find_folder(ref, RUN_FILE)
    if folder is not None:
        return folder
    known = [r.id for r in list_runs(settings)[:5]]
    hint = (
        f"recent runs: {', '.join(known)}" if known else "no runs yet: start one with danlu train"
    )
    raise RunNotFound(f"no training run '{ref}'", hint=hint)


def list_runs(settings: Settings) -> list[RunRecord]:
    """Every readable run, newest first."""
    root = settings.runs_dir
    records = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if (folder / RUN_FILE).is_file():
            try:
                records.append(read_record(folder))
            except RunNotFound:
                continue
    return sorted(records, key=lambda r: r.created, reverse=True)


def latest_unfinished(settings: Settings, stage: str) -> Path | None:
    """The newest run of `stage` that did not finish and is not training now (what a bare
    --resume continues)."""
    for record in list_runs(settings):
        if record.stage == stage and record.status != "finished" and not record.training_now:
            return settings.runs_dir / record.id
    return None


def run_to_resume(settings: Settings, stage: str, ref: str | None = None) -> tuple[Path, RunRecord]:
    """The run --resume continues, and its record: `ref` (an id or a path), else the newest
    unfinished run of `stage`. RunNotFound when there is none (or it is of another stage);
    RunExists when it has finished or is being trained now."""
    folder = find_run(ref, settings) if ref else latest_unfinished(settings, stage)
    if folder is None:
        raise RunNotFound(
            f"no unfinished {stage} run to resume",
            hint=f"start one with `danlu train {stage} --data FILE`; "
            "`danlu runs ls` lists the runs",
        )
    record = resumable(folder)
    if record.stage != stage:
        raise RunNotFound(
            f"run {record.id} is a {record.stage} run, not {stage}",
            hint=f"resume it with `danlu train {record.stage} --resume --run {record.id}`",
        )
    return folder, record


def resumable(run_dir: Path) -> RunRecord:
    """The record of a run that --resume may continue: RunExists if it is being trained
    now, or has finished."""
    record = read_record(run_dir)
    owner = record.owner
    if record.training_now and owner is not None:
        raise RunExists(
            f"run {record.id} is being trained now (process {owner.pid} on {owner.host})",
            hint="wait for it to end, or stop that process first",
        )
    if record.status == "finished":
        raise RunExists(
            f"run {record.id} has finished: there is nothing to resume",
            hint=f"start a new one with `danlu train {record.stage} --data FILE`",
        )
    return record


def settings_to_resume(
    cls: type[TrainSettings], flags: dict[str, Any], settings: Settings
) -> TrainSettings:
    """What --resume trains with when no data or recipe is given: the resumed run's own
    settings (`flags["run"]`, else the newest unfinished run), then the flags given."""
    stage = str(cls.model_fields["stage"].default)
    folder, record = run_to_resume(settings, stage, flags.get("run"))
    values = record.settings | {"run": folder.name}
    values.update({k: v for k, v in flags.items() if v is not None})
    return cls.from_sources(None, **values)


def last_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint with the highest step, if any was written completely."""
    folders = [p for p in (run_dir / "checkpoints").glob("checkpoint-*") if p.is_dir()]
    done = [p for p in folders if (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # blank, or the last line of a run killed while writing it
    return rows


def plot_loss(run_dir: Path) -> Path | None:
    """loss.png from metrics.jsonl (training and evaluation loss by step)."""
    rows = read_metrics(run_dir)
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    evals = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r]
    if not train:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display: write a file
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(*zip(*train, strict=False), label="train loss")
    if evals:
        ax.plot(*zip(*evals, strict=False), "o-", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(run_dir.name)
    ax.legend()
    fig.tight_layout()
    path = run_dir / CURVE_FILE
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

"""`danlu runs ls | show RUN`: past training runs, their settings, data and metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from danlu.cli.group import command_group
from danlu.config import Settings
from danlu.train.runs import CURVE_FILE, find_run, list_runs, read_record

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def ls(as_json: AsJson = False) -> int:
    """List the runs under DANLU_HOME/runs, newest first."""
    records = list_runs(Settings())
    if as_json:
        print(json.dumps([r.model_dump(exclude={"settings", "template"}) for r in records]))
        return 0
    if not records:
        print("no runs yet: start one with `danlu train sft --data FILE`")
        return 0
    table = Table(box=None)
    for name in ("RUN", "STATUS", "STEPS", "LOSS", "STAGE", "MODEL"):
        table.add_column(name, no_wrap=True)
    table.add_column("DATA", overflow="fold")  # the one column that may wrap
    for r in records:
        loss = r.metrics.get("train_loss")
        table.add_row(
            r.id,
            r.state(),
            str(r.steps),
            f"{loss:.3f}" if loss is not None else "-",
            r.stage,
            r.base_model.get("name", "-"),
            Path(str(r.data.get("source", "-"))).name,
        )
    Console(soft_wrap=True).print(table)
    return 0


def show(
    run: Annotated[str, typer.Argument(help="Run id or folder.")], as_json: AsJson = False
) -> int:
    """A run's record: base model, data hash, template, settings, versions, metrics."""
    run_dir = find_run(run, Settings())
    record = read_record(run_dir)
    if as_json:
        print(record.model_dump_json(indent=2))
        return 0
    print(f"run {record.id} ({record.stage}, {record.state()}, {record.steps} steps)")
    print(f"folder: {run_dir}")
    if record.status in ("interrupted", "failed"):
        print(f"resume it: danlu train {record.stage} --run {record.id} --resume")
    base = record.base_model
    print(f"base model: {base.get('name')} ({base.get('format')}, sha256 {base.get('sha256')})")
    data = record.data
    print(
        f"data: {data.get('source')} ({data.get('format')}, {data.get('examples')} examples, "
        f"sha256 {data.get('sha256')})"
    )
    print(f"template: {record.template.get('name')} · stop {list(record.template.get('stop', []))}")
    changed = {k: v for k, v in record.settings.items() if k not in ("data", "model")}
    print("settings: " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in record.versions.items()))
    if record.metrics:
        print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in record.metrics.items()))
    curve = run_dir / CURVE_FILE
    if curve.is_file():
        print(f"loss curve: {curve}")
    if record.output:
        print(f'chat with it: danlu run {run_dir} "..."')
    return 0


def group() -> typer.Typer:
    """The `danlu runs` sub-command group."""
    return command_group("runs", "Past training runs.", {"ls": ls, "show": show})

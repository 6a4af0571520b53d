"""The Train tab's export: a finished run to GGUF in the store, with its parity table.

The same `export_run` as `danlu export RUN --name NAME [--quant TYPE] [--adapter-only]`,
as a thread job of the jobs panel: its steps are the job's progress, and Cancel stops it
at the next step (the store's staging folder goes, nothing is registered). Bad input (a
run that is not finished, a taken name, a bad type) is one line before any job starts.
When the job ends the table is the run's `exports/<name>.json`, which the export writes
whether parity passed or not, so a failed check shows its numbers too. A picked run that
this page has not exported shows its newest saved report (after a reload or a restart).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from danlu.export import COMMON
from danlu.export.parity_table import PARITY_COLUMNS, parity_cells
from danlu.store import Catalog
from danlu.ui.context import UIContext
from danlu.ui.feedback import friendly
from danlu.ui.jobs import PageJob

if TYPE_CHECKING:
    from danlu.export.run import ExportOptions

NO_QUANT = "f16 (no quantization)"
KIND = "export"
EMPTY = [[""] * len(PARITY_COLUMNS)]  # gradio's table wants a row to show its headers


@dataclass(frozen=True)
class Started:
    """What the page remembers of an export job: where its parity report will be."""

    run_dir: Path
    name: str

    @property
    def report_path(self) -> Path:
        from danlu.export.register import report_path

        return report_path(self.run_dir, self.name)


class ExportActions:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx
        self.started: dict[str, Started] = {}  # job id → its report; lives with the server

    def options(self, name: str, quant: str, adapter_only: bool) -> ExportOptions:
        from danlu.export.run import ExportOptions

        quant = None if quant in ("", None, NO_QUANT) else quant
        threads = self.ctx.settings.threads
        return ExportOptions(name.strip(), quant, threads, adapter_only=bool(adapter_only))

    def start(self, run_id: str, name: str, quant: str, adapter_only: bool) -> str:
        from danlu.export.run import check_export, export_run

        if not run_id:
            raise gr.Error("Pick a finished run to export (the Run list above).")
        if not name.strip():
            raise gr.Error("Give the new model a name.")
        options = self.options(name, quant, adapter_only)
        run_dir, _, _ = check_export(run_id, options, Catalog(self.ctx.settings))
        settings = self.ctx.settings

        def work(job: PageJob) -> dict[str, Any]:
            def steps(label: str, done: int, total: int) -> None:
                job.progress(label, done, total)  # Cancelled here once cancel was asked
                job.message = label

            result = export_run(run_id, options, settings, steps)
            kind = "adapter" if options.adapter_only else result.manifest.quantization
            job.message = f"exported {result.manifest.name} ({kind}): see the Models tab"
            return result.report.to_dict()

        job = self.ctx.jobs.start(KIND, f"{run_id} → {options.name}", work)
        self.started[job.id] = Started(run_dir, options.name)
        return f"Exporting **{run_id}** as **{options.name}**: job {job.id} (see the jobs panel)"

    def follow(self, run_id: str) -> tuple[str, list[list[str]]]:
        """The picked run's export: this page's newest export job of it (a status line, and
        its parity table once it ended); else the run's last saved export, so a reloaded or
        restarted page shows it again."""
        job = self._latest(run_id)
        if job is None:
            return self._saved(run_id)
        progress = f" {job.percent}" if job.running and job.percent else ""
        status = f"**{job.title}**: {job.state}{progress} — {job.message}"
        report = None if job.running else self._report(job)
        if report is None:
            return status, EMPTY
        return f"{status}  \n{_summary(report)}", [parity_cells(r) for r in report["rows"]]

    def _latest(self, run_id: str) -> PageJob | None:
        ours = (j for j in self.ctx.jobs.list() if j.id in self.started)  # newest first
        return next((j for j in ours if self.started[j.id].run_dir.name == run_id), None)

    def _saved(self, run_id: str) -> tuple[str, list[list[str]]]:
        from danlu.export.register import newest_report

        path = newest_report(self.ctx.settings.runs_dir / run_id) if run_id else None
        if path is None:
            return "", EMPTY
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            rows = [parity_cells(row) for row in report["rows"]]
        except (OSError, ValueError, KeyError, TypeError):
            return f"**{run_id}**: its last export report cannot be read", EMPTY
        status = f"**{run_id} → {path.stem}**: exported earlier"
        return f"{status}  \n{_summary(report)}", rows

    def _report(self, job: PageJob) -> dict[str, Any] | None:
        if job.state == "done":
            return job.result
        path = self.started[job.id].report_path  # a failed parity check saved its table
        if path.is_file() and path.stat().st_mtime >= job.started:
            return json.loads(path.read_text(encoding="utf-8"))
        return None


def _summary(report: dict[str, Any]) -> str:
    """The line above a parity table: what it was measured against."""
    line = f"parity against {report['reference']}; greedy: identical first "
    return line + f"{report['greedy_tokens']} tokens; Δ: drop against the first row"


def build(ctx: UIContext, run: gr.Dropdown) -> None:
    """The export row under the Train tab's runs; `run` is the tab's run picker."""
    act = ExportActions(ctx)
    with gr.Group():
        gr.Markdown(
            "**Export the picked run to GGUF** (`danlu export`): merged, converted, "
            "quantized, checked for parity against the trained model, into the store."
        )
        with gr.Row():
            name = gr.Textbox(label="New model name", elem_id="export-name", scale=2)
            quant = gr.Dropdown(
                [NO_QUANT, *COMMON], value=NO_QUANT, label="Quantization", elem_id="export-quant"
            )
            adapter_only = gr.Checkbox(
                label="Adapter only (a GGUF LoRA over the base)", elem_id="export-adapter"
            )
            go = gr.Button("Export", variant="primary", elem_id="export-start", scale=1)
    status = gr.Markdown(elem_id="export-status")
    parity = gr.Dataframe(headers=list(PARITY_COLUMNS), interactive=False, elem_id="export-parity")
    go.click(friendly(act.start), [run, name, quant, adapter_only], status)
    gr.Timer(2.0).tick(friendly(act.follow), run, [status, parity], show_progress="hidden")

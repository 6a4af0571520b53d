"""The Evaluate tab: score one or more models on a task, see the table and the chart; and
bench a model's speed or a server under load.

Each is the CLI command (`danlu eval ... --json`, `danlu bench ...`) in a background
process, so Cancel is Ctrl-C (an evaluation keeps its scored samples and resumes). The
table and chart come from `danlu.evaluate.report`, the same as `danlu eval report`.
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from danlu.ui.context import UIContext
from danlu.ui.feedback import friendly
from danlu.ui.jobs import PageJob
from danlu.ui.names import model_names

TASKS = ("mc", "qa", "perplexity", "mmlu", "ceval", "cmmlu")
DATA_TYPES = (".jsonl", ".json", ".csv", ".txt")


class EvaluateActions:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    def keep_data(self, upload: str | None) -> str:
        return str(self.ctx.keep_upload(upload, "eval", DATA_TYPES)) if upload else ""

    def run(self, models: list[str], task: str, data: str, limit: float, shots: float) -> str:
        if not models:
            raise gr.Error("Pick at least one model.")
        if not data.strip():
            raise gr.Error("Upload the task's data or give its path (a file or folder).")
        args = ["eval", *models, "--task", task, "--data", data.strip(), "--json"]
        args += ["--shots", str(int(shots or 0))]
        if limit and limit > 0:
            args += ["--limit", str(int(limit))]
        job = self.ctx.jobs.spawn("eval", f"{task}: {', '.join(models)}", args, self._report)
        return f"Evaluating: job {job.id} (see the jobs panel)"

    def _report(self, job: PageJob) -> None:
        """On success: the results, the markdown table and the chart's PNG."""
        from danlu.evaluate.report import chart, table

        if job.state != "done":
            return
        results = json.loads(job.result)
        png = chart(results, self.ctx.charts / f"{job.id}.png")
        job.result = {"results": results, "table": table(results), "chart": str(png)}

    def show(self) -> tuple[str, str, Any]:
        """The latest evaluation: its state, table and chart."""
        job = self.ctx.jobs.latest("eval")
        if job is None:
            return "", "", None
        if isinstance(job.result, dict):
            return f"**{job.title}**: {job.state}", job.result["table"], job.result["chart"]
        note = f"  \n{job.message}" if job.state == "failed" else ""
        tail = "\n".join(job.log[-3:]) if job.running else ""
        return f"**{job.title}**: {job.state}{note}", f"```\n{tail}\n```" if tail else "", None

    def bench(self, target: str, models: list[str], prompt: float, gen: float, reps: float) -> str:
        model = models[0] if models else ""
        target = target.strip() or model
        if not target:
            raise gr.Error("Pick a model or give a server URL.")
        if target.startswith(("http://", "https://")):
            args = ["bench", "serve", target, "--model", model, "--concurrency", "1,2"]
            args += ["--requests", "4", "--max-tokens", str(int(gen))]
        else:
            args = ["bench", target, "-p", str(int(prompt)), "-n", str(int(gen))]
            args += ["-r", str(int(reps))]
        job = self.ctx.jobs.spawn("bench", target, args)
        return f"Benchmarking: job {job.id}"

    def bench_output(self) -> str:
        job = self.ctx.jobs.latest("bench")
        if job is None:
            return ""
        shown = (
            job.result
            if isinstance(job.result, str) and not job.running
            else "\n".join(job.log[-10:])
        )
        return f"{job.title}: {job.state} {job.message}\n\n{shown}"


def build(ctx: UIContext, demo: gr.Blocks) -> None:
    act = EvaluateActions(ctx)
    with gr.Row():
        models = gr.Dropdown(
            label="Models",
            multiselect=True,
            value=[ctx.settings.default_model],
            choices=[ctx.settings.default_model],
            elem_id="eval-models",
        )
        task = gr.Dropdown(list(TASKS), value="mc", label="Task", elem_id="eval-task")
    with gr.Row():
        upload = gr.File(
            label=ctx.ui.upload_label("Task data"), type="filepath", elem_id="eval-upload"
        )
        data = gr.Textbox(label="…or a data file or folder on this machine", elem_id="eval-data")
    with gr.Row():
        limit = gr.Number(value=20, precision=0, label="Items (0: all)", elem_id="eval-limit")
        shots = gr.Number(value=0, precision=0, label="Shots")
        run = gr.Button("Evaluate", variant="primary", elem_id="eval-run")
    status = gr.Markdown(elem_id="eval-status")
    table = gr.Markdown(elem_id="eval-table")
    chart = gr.Image(label="Comparison", type="filepath", elem_id="eval-chart", height=320)
    with gr.Accordion("Speed (danlu bench)", open=False, elem_id="bench-panel"):
        with gr.Row():
            target = gr.Textbox(label="Model, or a server URL", elem_id="bench-target")
            prompt = gr.Number(value=64, precision=0, label="Prompt tokens", elem_id="bench-prompt")
            gen = gr.Number(value=16, precision=0, label="Generated tokens", elem_id="bench-gen")
            reps = gr.Number(value=2, precision=0, label="Repetitions", elem_id="bench-reps")
            bench = gr.Button("Bench", elem_id="bench-run")
        bench_out = gr.Code(label="Result", elem_id="bench-output")

    upload.upload(friendly(act.keep_data), upload, data)
    run.click(friendly(act.run), [models, task, data, limit, shots], status)
    bench.click(friendly(act.bench), [target, models, prompt, gen, reps], bench_out)
    timer = gr.Timer(2.0)
    timer.tick(friendly(act.show), None, [status, table, chart], show_progress="hidden")
    timer.tick(friendly(act.bench_output), None, bench_out, show_progress="hidden")

    def refresh() -> Any:
        return gr.update(choices=model_names(ctx.settings))

    demo.load(friendly(refresh), None, models)

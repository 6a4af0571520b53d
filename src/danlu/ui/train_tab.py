"""The Train tab: a form over the training settings (the stage from train/stages' table,
as `danlu train STAGE`: sft, dpo), a data preview with its validation report, start / stop /
resume, the live loss curve and log, the list of runs, and the export of a finished run
(`ui/export_panel.py`).

A run is the `danlu train STAGE` command in a background process (the torch stack stays out
of the page's process, and Stop is Ctrl-C: the run is recorded as interrupted and resumes
from its last checkpoint). The page names the run id, so it can follow the run folder's
metrics.jsonl while the process writes it, and find it again after a reload.
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

import gradio as gr

from danlu.train.settings import Method, TrainSettings
from danlu.train.stages import STAGES
from danlu.ui import export_panel
from danlu.ui.context import UIContext
from danlu.ui.feedback import friendly
from danlu.ui.names import model_names

DATA_TYPES = (".jsonl", ".json", ".csv", ".parquet")
PREVIEW_ROWS = 5
RUN_COLUMNS = ["run", "stage", "status", "steps", "loss", "model", "created"]
LOG_SHOWN = 30
# (settings field, label): the form's numbers, each shown with the picked stage's default
# and given to the command as --FIELD (a learning rate of 0 means the stage's default)
NUMBERS = (
    ("epochs", "Epochs"),
    ("max_steps", "Max steps (-1: epochs decide)"),
    ("learning_rate", "Learning rate (0: the method's default)"),
    ("lora_r", "LoRA rank"),
    ("batch_size", "Batch size"),
    ("max_length", "Max length (tokens)"),
    ("save_steps", "Checkpoint every (steps)"),
)


def _run_dir(ctx: UIContext, run_id: str):
    return ctx.settings.runs_dir / run_id


class TrainActions:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    def keep_data(self, upload: str | None) -> str:
        if not upload:
            return ""
        return str(self.ctx.keep_upload(upload, "train", DATA_TYPES))

    def check(self, path: str) -> tuple[list[list[str]], str]:
        """The first rows and the validation report (`danlu data check`, without tokens)."""
        from danlu.train.data import load_data

        if not path.strip():
            raise gr.Error("Upload a data file or give its path first.")
        data = load_data(path.strip())
        preview = [
            [where, _short(ex)] for where, ex in zip(data.wheres, data.examples, strict=True)
        ]
        lines = [
            f"**{data.format.name}** ({data.format.kind}): {data.rows} rows, "
            f"{len(data.examples)} valid, {len(data.problems)} bad"
        ]
        lines += [f"- {p}" for p in data.problems[:20]]
        return preview[:PREVIEW_ROWS], "\n".join(lines)

    def start(self, stage: str, model: str, path: str, method: str, *fields: Any) -> Any:
        """`danlu train STAGE --run ID ...` with the form's values, checked first.

        `fields` are the form's numbers, then every stage's own options (OPTIONS order);
        only the picked stage's options are given to the command.
        """
        from danlu.train.data import load_data
        from danlu.train.runs import new_run_id

        if not path.strip():
            raise gr.Error("Upload a data file or give its path first.")
        values = dict(zip((name for name, _ in NUMBERS), fields[: len(NUMBERS)], strict=True))
        values["learning_rate"] = values["learning_rate"] or None
        options = zip(OPTIONS, fields[len(NUMBERS) :], strict=True)
        values |= {name: value for (of, name), value in options if of == stage}
        flags = {"model": model, "data": path.strip(), "method": method, **values}
        # a bad value is one line, and rows the stage cannot train on refuse, before any process
        settings = STAGES[stage].settings.from_sources(None, **flags)
        load_data(settings.data, settings.format).require_clean(STAGES[stage].kinds)
        run_id = new_run_id(stage, model)
        args = ["train", stage, "--run", run_id, *_flags(settings, flags)]
        self.ctx.jobs.spawn("train", run_id, args)
        ids = [run_id, *self._ids()]  # its folder appears once the process starts
        return f"Started run **{run_id}**", gr.update(choices=ids, value=run_id)

    def stop(self, run_id: str) -> str:
        job = self._job(run_id)
        if job is None or not job.running:
            raise gr.Error("That run is not running from this page.")
        self.ctx.jobs.cancel(job.id)
        return f"Stopping **{run_id}** (it is recorded as interrupted, and can resume)"

    def resume(self, run_id: str) -> str:
        if not run_id:
            raise gr.Error("Pick a run to resume.")
        job = self._job(run_id)
        if job is not None and job.running:
            raise gr.Error("That run is running already.")
        from danlu.train.runs import read_record, run_to_resume

        stage = read_record(_run_dir(self.ctx, run_id)).stage
        # the lookup `danlu train --resume` makes, so a finished or live run is one line here
        run_to_resume(self.ctx.settings, stage, run_id)
        self.ctx.jobs.spawn("train", run_id, ["train", stage, "--resume", "--run", run_id])
        return f"Resuming **{run_id}**"

    def _job(self, run_id: str):
        return next(
            (j for j in self.ctx.jobs.list() if j.kind == "train" and j.title == run_id), None
        )

    def _ids(self) -> list[str]:
        from danlu.train.runs import list_runs

        return [r.id for r in list_runs(self.ctx.settings)]

    def runs(self) -> list[list[Any]]:
        from danlu.train.runs import list_runs

        rows = []
        for r in list_runs(self.ctx.settings):
            loss = r.metrics.get("train_loss")
            rows.append(
                [
                    r.id,
                    r.stage,
                    r.status,
                    r.steps,
                    "" if loss is None else round(loss, 4),
                    r.base_model.get("name", ""),
                    r.created,
                ]
            )
        return rows

    def follow(self, run_id: str) -> tuple[Any, str, str]:
        """The loss so far, a status line and the log tail of the picked run."""
        import pandas as pd

        from danlu.train.runs import read_metrics, read_record

        if not run_id:
            return pd.DataFrame({"step": [], "loss": []}), "", ""
        run_dir = _run_dir(self.ctx, run_id)
        rows = [r for r in read_metrics(run_dir) if "loss" in r] if run_dir.is_dir() else []
        curve = pd.DataFrame({"step": [r["step"] for r in rows], "loss": [r["loss"] for r in rows]})
        job = self._job(run_id)
        state = job.state if job is not None else "-"
        if (run_dir / "run.json").is_file():
            record = read_record(run_dir)
            state = "running" if job is not None and job.running else record.status
        last = f", loss {rows[-1]['loss']:.4f}" if rows else ""
        status = f"**{run_id}**: {state}, {len(rows)} logged steps{last}"
        if job is not None and job.state == "failed":
            status += f"  \n{job.message}"
        log = "\n".join(job.log[-LOG_SHOWN:]) if job is not None else ""
        return curve, status, log

    def pick(self) -> Any:
        ids = self._ids()
        return gr.update(choices=ids, value=ids[0] if ids else None)


def _flags(settings: Any, given: dict[str, Any]) -> list[str]:
    """CLI flags for the fields the form set (the settings checked them already)."""
    flags = []
    for name in given:
        value = getattr(settings, name)
        flag = name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(f"--{flag}" if value else f"--no-{flag}")
        elif value is not None:
            flags += [f"--{flag}", str(value)]
    return flags


def stage_options(stage: str) -> dict[str, Any]:
    """The settings `stage` adds to those every stage shares (DPO's beta and loss, SFT's
    loss masking): name -> pydantic field. The form shows them while `stage` is picked."""
    shared = set(TrainSettings.model_fields) | {"stage"}
    fields = STAGES[stage].settings.model_fields
    return {name: field for name, field in fields.items() if name not in shared}


# (stage, settings field) for every stage's own options, in the form's order
OPTIONS = tuple((stage, name) for stage in STAGES for name in stage_options(stage))


def _option_input(stage: str, name: str, field: Any) -> Any:
    """A form input for one stage option, by its type: a checkbox, a choice or a number."""
    label = f"{name.replace('_', ' ')}: {field.description}"
    elem_id = _elem_id(f"{stage}_{name}")
    if field.annotation is bool:
        return gr.Checkbox(value=field.default, label=label, elem_id=elem_id)
    if get_origin(field.annotation) is Literal:
        choices = list(get_args(field.annotation))
        return gr.Radio(choices, value=field.default, label=label, elem_id=elem_id)
    return gr.Number(value=field.default, label=label, elem_id=elem_id)


def stage_defaults(stage: str) -> list[Any]:
    """The form's numbers as `stage`'s settings default them (None shown as 0)."""
    fields = STAGES[stage].settings.model_fields
    return [fields[name].default or 0 for name, _ in NUMBERS]


def _elem_id(name: str) -> str:
    return "train-" + name.replace("_", "-")


def _short(example: Any) -> str:
    from danlu.train.data.examples import preview

    text = preview(example)
    return text if len(text) < 300 else text[:297] + "…"


def build(ctx: UIContext, demo: gr.Blocks) -> None:
    act = TrainActions(ctx)
    with gr.Row():
        model = gr.Dropdown(
            label="Base model",
            value=ctx.settings.default_model,
            choices=[ctx.settings.default_model],
            elem_id="train-model",
        )
        stage = gr.Radio(list(STAGES), value="sft", label="Stage", elem_id="train-stage")
        method = gr.Radio(
            list(get_args(Method)),
            value=STAGES["sft"].settings.model_fields["method"].default,
            label="Method",
            elem_id="train-method",
        )
    with gr.Row():
        upload = gr.File(
            label=ctx.ui.upload_label("Data file: .jsonl .json .csv .parquet"),
            type="filepath",
            elem_id="train-upload",
        )
        path = gr.Textbox(label="Data file path (or a hub dataset id)", elem_id="train-data")
    check = gr.Button("Check data", size="sm", elem_id="train-check")
    report = gr.Markdown(elem_id="train-report")
    preview = gr.Dataframe(
        headers=["line", "example"], interactive=False, wrap=True, elem_id="train-preview"
    )
    with gr.Row():
        numbers = [
            gr.Number(value=value, label=label, elem_id=_elem_id(name))
            for (name, label), value in zip(NUMBERS, stage_defaults("sft"), strict=True)
        ]
    groups, options = [], []  # each stage's own options, shown while it is picked
    for each in STAGES:
        with gr.Row(visible=each == "sft", elem_id=f"train-{each}-options") as group:
            options += [_option_input(each, n, f) for n, f in stage_options(each).items()]
        groups.append(group)
    with gr.Row():
        start = gr.Button("Start", variant="primary", elem_id="train-start")
        stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
        resume = gr.Button("Resume", elem_id="train-resume")
    status = gr.Markdown(elem_id="train-status")
    run = gr.Dropdown(label="Run", elem_id="train-run")
    with gr.Row():
        curve = gr.LinePlot(
            x="step", y="loss", title="Training loss", elem_id="train-loss", height=280
        )
        log = gr.Textbox(label="Log", lines=12, max_lines=12, elem_id="train-log")
    runs = gr.Dataframe(headers=RUN_COLUMNS, interactive=False, elem_id="train-runs")
    export_panel.build(ctx, run)

    form = [stage, model, path, method, *numbers, *options]
    stage.change(stage_defaults, stage, numbers)
    stage.change(lambda picked: [gr.update(visible=s == picked) for s in STAGES], stage, groups)
    upload.upload(friendly(act.keep_data), upload, path)
    check.click(friendly(act.check), path, [preview, report])
    start.click(friendly(act.start), form, [status, run])
    stop.click(friendly(act.stop), run, status)
    resume.click(friendly(act.resume), run, status)
    gr.Timer(2.0).tick(friendly(act.follow), run, [curve, status, log], show_progress="hidden")
    gr.Timer(5.0).tick(friendly(act.runs), None, runs, show_progress="hidden")

    def refresh() -> tuple[Any, Any, Any]:
        return gr.update(choices=model_names(ctx.settings)), act.pick(), act.runs()

    demo.load(friendly(refresh), None, [model, run, runs])

"""The Models tab: the store as a table, one model's details and template, pull, import,
copy and delete, all through `Catalog` as `danlu list | show | pull | import | cp | rm`.

Pull and import run as background jobs with a live progress bar (the jobs panel); the
table is read again whenever a job ends, so a model a job adds shows up by itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr

from danlu.store import Catalog
from danlu.ui.context import UIContext
from danlu.ui.feedback import friendly
from danlu.ui.jobs import PageJob
from danlu.ui.names import model_names
from danlu.units import human_params, human_size

COLUMNS = ["name", "format", "params", "quant", "size", "ctx", "status"]
JOB_CHECK_SECONDS = 2.0  # how often the tab asks whether a job has ended since its last look


class ModelActions:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    @property
    def catalog(self) -> Catalog:
        return Catalog(self.ctx.settings)

    def rows(self) -> list[list[Any]]:
        catalog = self.catalog
        return [
            [
                m.name,
                m.format,
                human_params(m.parameters),
                m.quantization or "-",
                human_size(m.size),
                m.context_length or "-",
                catalog.check_files(m).state,
            ]
            for m in catalog.list().models
        ]

    def table(self, picked: str | None = None) -> tuple[list[list[Any]], Any]:
        """The store's rows, and the picker's names (the pick kept while it is there)."""
        rows = self.rows()
        names = [r[0] for r in rows]
        return rows, gr.update(choices=names, value=picked if picked in names else None)

    def after_jobs(self, seen: int) -> tuple[Any, Any, int]:
        """The table again once a job has ended since `seen`; nothing sent otherwise.

        Only the picker's choices change: a job adds models, and the pick stays the user's
        (a value sent from here could undo a pick made while this ran).
        """
        settled = self.ctx.jobs.settled
        if settled == seen:
            return gr.skip(), gr.skip(), seen
        rows = self.rows()
        return rows, gr.update(choices=[r[0] for r in rows]), settled

    def details(self, name: str) -> tuple[str, str]:
        if not name:
            return "", ""
        catalog = self.catalog
        manifest = catalog.get(name)
        files = [str(p) for p in manifest.file_paths(catalog.model_dir(name))]
        body = {**manifest.model_dump(mode="json", exclude={"chat_template"}), "paths": files}
        fallback = f"(none: the named '{manifest.template or 'chatml'}' template is used)"
        return json.dumps(body, indent=2, ensure_ascii=False), manifest.chat_template or fallback

    def pull(self, ref: str, name: str) -> str:
        ref, name = ref.strip(), name.strip() or None
        if not ref:
            raise gr.Error("Give a hub reference: org/repo, org/repo:QUANT or org/repo/file.gguf")

        def work(job: PageJob) -> str:
            manifest = self.catalog.pull(ref, name, download=job.progress, progress=job.progress)
            job.message = f"pulled {manifest.name} ({human_size(manifest.size)})"
            return manifest.name

        return f"Pulling {ref}: see the jobs panel. Job {self.ctx.jobs.start('pull', ref, work).id}"

    def import_path(self, path: str, name: str) -> str:
        if not path.strip():
            raise gr.Error("Give the path of a .gguf file or a Hugging Face model folder.")
        source = Path(path.strip()).expanduser()

        def work(job: PageJob) -> str:
            manifest = self.catalog.import_path(source, name.strip() or None, progress=job.progress)
            job.message = f"imported {manifest.name} ({human_size(manifest.size)})"
            return manifest.name

        job = self.ctx.jobs.start("import", source.name, work)
        return f"Importing {source}: see the jobs panel. Job {job.id}"

    def copy(self, src: str, dst: str) -> str:
        if not src or not dst.strip():
            raise gr.Error("Pick a model and give the new name.")
        self.catalog.copy(src, dst.strip())
        return f"Copied {src} to {dst.strip()}"

    def ask_delete(self, name: str) -> tuple[Any, str]:
        if not name:
            raise gr.Error("Pick a model to delete.")
        return gr.update(visible=True, value=f"Yes, delete {name}"), f"Delete **{name}**?"

    def delete(self, name: str) -> tuple[Any, str]:
        self.catalog.remove(name)
        return gr.update(visible=False), f"Deleted {name}"


def build(ctx: UIContext, demo: gr.Blocks) -> None:
    act = ModelActions(ctx)
    table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="models-table")
    refresh = gr.Button("Refresh", size="sm", elem_id="models-refresh")
    with gr.Row():
        with gr.Column(scale=2):
            # nothing picked at first: a pick is the user's (Delete acts on it), and the
            # details fill on the change a pick makes
            picked = gr.Dropdown(
                label="Model", choices=model_names(ctx.settings), value=None, elem_id="models-pick"
            )
            details = gr.Code(label="Details", language="json", elem_id="models-details")
            template = gr.Code(label="Chat template", language="jinja2", elem_id="models-template")
        with gr.Column(scale=1):
            with gr.Group():
                ref = gr.Textbox(
                    label="Pull from the hub",
                    placeholder="org/repo:Q4_K_M",
                    elem_id="models-pull-ref",
                )
                pull_name = gr.Textbox(
                    label="Name in the store (optional)", elem_id="models-pull-name"
                )
                pull = gr.Button("Pull", elem_id="models-pull")
            with gr.Group():
                path = gr.Textbox(
                    label="Import a local .gguf file or HF folder (on this machine)",
                    elem_id="models-import-path",
                )
                import_name = gr.Textbox(
                    label="Name in the store (optional)", elem_id="models-import-name"
                )
                do_import = gr.Button("Import", elem_id="models-import")
            with gr.Group():
                new_name = gr.Textbox(label="Copy the picked model as", elem_id="models-copy-name")
                copy = gr.Button("Copy", elem_id="models-copy")
            delete = gr.Button("Delete the picked model", variant="stop", elem_id="models-delete")
            confirm = gr.Button(visible=False, variant="stop", elem_id="models-delete-confirm")
    status = gr.Markdown(elem_id="models-status")
    seen = gr.State(0)  # ctx.jobs.settled when this browser's table was last read

    listing = [table, picked]
    refresh.click(friendly(act.table), picked, listing)
    gr.Timer(JOB_CHECK_SECONDS).tick(
        friendly(act.after_jobs), seen, [*listing, seen], show_progress="hidden"
    )
    picked.change(friendly(act.details), picked, [details, template])
    pull.click(friendly(act.pull), [ref, pull_name], status)
    do_import.click(friendly(act.import_path), [path, import_name], status)
    copy.click(friendly(act.copy), [picked, new_name], status).success(
        friendly(act.table), picked, listing
    )
    delete.click(friendly(act.ask_delete), picked, [confirm, status])
    confirm.click(friendly(act.delete), picked, [confirm, status]).success(
        friendly(act.table), picked, listing
    )
    demo.load(friendly(act.table), picked, listing)

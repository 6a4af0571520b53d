"""The Knowledge tab: create a knowledge base, add uploaded files or a folder (a background
job with ingest progress), list its files with their chunk counts, remove one, search.

The same `danlu.kb` calls as `danlu kb create | add | show | search`. Uploads are copied
under DANLU_HOME/ui/uploads/kb/ first (the client names no path); a removed file that
came from an upload is deleted with its copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from danlu.ui.context import UIContext
from danlu.ui.feedback import friendly
from danlu.ui.jobs import PageJob
from danlu.ui.names import kb_names

FILE_COLUMNS = ["path", "chunks", "bytes"]
HIT_COLUMNS = ["rank", "score", "similarity", "where", "text"]
SHOWN_TEXT = 300  # characters of a chunk shown in the search table


def accepted() -> tuple[str, ...]:
    from danlu.kb.loaders import LOADERS

    return tuple(sorted(LOADERS))


class KnowledgeActions:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    def names(self) -> Any:
        return gr.update(choices=kb_names(self.ctx.settings))

    def create(self, name: str) -> tuple[Any, str]:
        import danlu.kb
        from danlu.kb.embedders import DEFAULT_EMBEDDER

        name = name.strip()
        if not name:
            raise gr.Error("Give the new knowledge base a name.")
        embedder = self.ctx.embedder(DEFAULT_EMBEDDER)
        with danlu.kb.create(name, settings=self.ctx.settings, embedder=embedder) as kb:
            info = kb.info()
        note = f"Created **{name}** ({info.embedder}, {info.dimension} dimensions)"
        return gr.update(choices=kb_names(self.ctx.settings), value=name), note

    def add(self, name: str, uploads: list[str] | None, folder: str) -> str:
        if not name:
            raise gr.Error("Pick or create a knowledge base first.")
        paths = [self.ctx.keep_upload(f, f"kb/{name}", accepted()) for f in uploads or []]
        if folder.strip():
            paths.append(Path(folder.strip()).expanduser())
        if not paths:
            raise gr.Error("Upload files or give a folder to add.")

        def work(job: PageJob) -> str:
            def progress(step: Any) -> None:
                job.progress(f"adding to {name}", step.done, step.total)
                job.message = f"{step.done}/{step.total} files, {step.chunks} chunks"

            with self.ctx.open_kb(name) as kb:
                report = kb.add(paths, on_progress=progress)
            for path, why in report.skipped:
                job.say(f"skipped {path}: {why}")
            job.message = (
                f"added {len(report.added)}, updated {len(report.updated)}, unchanged "
                f"{len(report.unchanged)}, skipped {len(report.skipped)} "
                f"({report.chunks} chunks)"
            )
            return job.message

        job = self.ctx.jobs.start("ingest", name, work)
        return f"Adding {len(paths)} path(s) to **{name}**: job {job.id} (see the jobs panel)"

    def files(self, name: str) -> tuple[list[list[Any]], Any, str]:
        if not name:
            return [], gr.update(choices=[]), ""
        with self.ctx.open_kb(name) as kb:
            records = sorted(kb.store.files().values(), key=lambda r: r.path)
            counts = kb.store.counts()
        rows = [[r.path, r.chunks, r.size] for r in records]
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        return rows, gr.update(choices=[r.path for r in records], value=None), summary

    def remove_file(self, name: str, path: str) -> str:
        if not name or not path:
            raise gr.Error("Pick a knowledge base and one of its files.")
        with self.ctx.open_kb(name) as kb:
            kb.store.remove_file(path)
        uploaded = Path(path)
        if uploaded.is_relative_to(self.ctx.upload_root) and uploaded.is_file():
            uploaded.unlink()  # an upload's copy would come back at the next sync
        return f"Removed {path} from **{name}**"

    def search(self, name: str, query: str, k: float, mode: str) -> list[list[Any]]:
        from danlu.kb import SearchOptions

        if not name:
            raise gr.Error("Pick a knowledge base first.")
        if not query.strip():
            raise gr.Error("Type what to look for.")
        with self.ctx.open_kb(name) as kb:
            hits = kb.search(query, SearchOptions(k=int(k), mode=mode))
        return [
            [
                n,
                round(h.score, 4),
                None if h.similarity is None else round(h.similarity, 3),
                h.chunk.where,
                " ".join(h.chunk.text.split())[:SHOWN_TEXT],
            ]
            for n, h in enumerate(hits, 1)
        ]


def build(ctx: UIContext, demo: gr.Blocks) -> None:
    act = KnowledgeActions(ctx)
    with gr.Row():
        picked = gr.Dropdown(label="Knowledge base", elem_id="kb-pick", scale=2)
        new_name = gr.Textbox(label="New knowledge base", elem_id="kb-new-name", scale=2)
        create = gr.Button("Create", elem_id="kb-create", scale=1)
    with gr.Row():
        uploads = gr.File(
            label=ctx.ui.upload_label("Upload documents"),
            file_count="multiple",
            elem_id="kb-upload",
            type="filepath",
        )
        folder = gr.Textbox(label="…or a folder on this machine", elem_id="kb-folder")
    add = gr.Button("Add to the knowledge base", variant="primary", elem_id="kb-add")
    status = gr.Markdown(elem_id="kb-status")
    with gr.Row():
        files = gr.Dataframe(headers=FILE_COLUMNS, interactive=False, elem_id="kb-files", scale=3)
        with gr.Column(scale=1):
            counts = gr.Markdown(elem_id="kb-counts")
            refresh = gr.Button("Refresh files", size="sm", elem_id="kb-refresh")
            file_pick = gr.Dropdown(label="File", elem_id="kb-file-pick")
            remove = gr.Button("Remove file", variant="stop", size="sm", elem_id="kb-remove")
    with gr.Row():
        query = gr.Textbox(label="Search", elem_id="kb-query", scale=4)
        k = gr.Number(value=5, precision=0, minimum=1, maximum=50, label="k", scale=1)
        mode = gr.Radio(["hybrid", "dense", "keyword"], value="hybrid", label="Mode", scale=2)
        search = gr.Button("Search", elem_id="kb-search", scale=1)
    hits = gr.Dataframe(headers=HIT_COLUMNS, interactive=False, wrap=True, elem_id="kb-hits")

    listing = [files, file_pick, counts]
    create.click(friendly(act.create), new_name, [picked, status])
    add.click(friendly(act.add), [picked, uploads, folder], status)
    picked.change(friendly(act.files), picked, listing)
    refresh.click(friendly(act.files), picked, listing)
    remove.click(friendly(act.remove_file), [picked, file_pick], status).success(
        friendly(act.files), picked, listing
    )
    search.click(friendly(act.search), [picked, query, k, mode], hits)
    query.submit(friendly(act.search), [picked, query, k, mode], hits)
    demo.load(friendly(act.names), None, picked)

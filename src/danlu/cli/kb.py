"""`danlu kb create | add | sync | forget | search | ask | ls | show | rm | eval`.

Each command is a thin call into `danlu.kb`. `search` and `ask` take their options from
SearchOptions and AskOptions (generated, cli/settings_flags.py); those modules import none
of the `kb` extra's heavy libraries (embedders, stores, jieba load when used), so the rest
of the CLI starts without them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from danlu.cli.group import command_group
from danlu.cli.progress import bar
from danlu.cli.settings_flags import from_settings
from danlu.kb.answer import AskOptions
from danlu.kb.retrieve import SearchOptions

if TYPE_CHECKING:
    from danlu.kb import Hit, IngestReport, IngestStep, KnowledgeBase
    from danlu.kb.policy import ReadPolicy
    from danlu.progress import Progress

Opt = typer.Option
Arg = typer.Argument
Name = Annotated[str, Arg(help="Knowledge base name.")]
AsJson = Annotated[bool, Opt("--json", help="Print JSON.")]
MaxFileSize = Annotated[
    str | None,
    Opt("--max-file-size", help="Skip files larger than this, e.g. 200MB (default 64MB)."),
]
FollowLinks = Annotated[
    bool, Opt("--follow-links", help="Follow symbolic links that lead out of the folder.")
]
Batch = Annotated[
    int | None, Opt("--batch", help="Chunks embedded at a time (default 512; less uses less RAM).")
]


def _open(name: str) -> KnowledgeBase:
    import danlu.kb

    return danlu.kb.open(name)


def _drawn(draw: Progress, label: str) -> Callable[[IngestStep], None]:
    """An ingest's steps on the CLI's bar: files and chunks beside it, over the bytes read
    (the bar moves within a large file)."""

    def update(step: IngestStep) -> None:
        shown = f"{label} · {step.done}/{step.total} files · {step.chunks} chunks"
        draw(shown, step.bytes_done, step.bytes_total or None)

    return update


def _policy(max_file_size: str | None, follow_links: bool) -> ReadPolicy:
    """The read policy from the flags; a bad size is one line (an InvalidParameter)."""
    from danlu.engine.sampling import validated
    from danlu.kb.policy import ReadPolicy

    given = {"max_file_size": max_file_size} if max_file_size is not None else {}
    return validated(ReadPolicy, follow_links=follow_links, **given)


def _print_report(report: IngestReport) -> None:
    for path, why in report.skipped:
        print(f"skipped: {why}" if path in why else f"skipped: {path}: {why}", file=sys.stderr)
    for path, stored_as in report.duplicates:
        print(f"duplicate: {path}: same content as {stored_as}", file=sys.stderr)
    print(
        f"added {len(report.added)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}, removed {len(report.removed)}, "
        f"duplicate {len(report.duplicates)}, skipped {len(report.skipped)} "
        f"({report.chunks} chunks embedded)"
    )


def create(
    name: Name,
    embedder: Annotated[
        str, Opt("--embedder", help="minilm (default), st:PATH|ID, gguf:NAME, openai:URL#MODEL")
    ] = "minilm",
    store: Annotated[
        str | None, Opt("--store", help="A postgresql:// URL (default: a SQLite file).")
    ] = None,
    chunk_size: Annotated[int | None, Opt("--chunk-size", help="Tokens per chunk.")] = None,
    chunk_overlap: Annotated[int, Opt("--chunk-overlap", help="Tokens of overlap.")] = 32,
) -> int:
    """Create an empty knowledge base."""
    import danlu.kb
    from danlu.engine.sampling import validated
    from danlu.kb.chunking import ChunkSettings

    chunking = (
        validated(ChunkSettings, size=chunk_size, overlap=chunk_overlap) if chunk_size else None
    )
    with danlu.kb.create(name, embedder=embedder, store=store, chunking=chunking) as kb:
        info = kb.info()
    print(f"created {name} ({info.embedder}, {info.dimension} dimensions, {info.url})")
    return 0


def add(
    name: Name,
    paths: Annotated[list[Path], Arg(help="Files and folders (folders recursively).")],
    max_file_size: MaxFileSize = None,
    follow_links: FollowLinks = False,
    batch: Batch = None,
) -> int:
    """Add documents; unchanged files are skipped, changed ones re-read, copies of stored
    content reported as duplicates."""
    from danlu.kb.base import BATCH

    policy = _policy(max_file_size, follow_links)
    with _open(name) as kb:
        kb.embedder  # noqa: B018 -- loaded before the bar starts, so its rate is the ingest's
        with bar("bytes", f"adding to {name}", transient=True) as draw:
            progress = _drawn(draw, f"adding to {name}")
            report = kb.add(list(paths), on_progress=progress, batch=batch or BATCH, policy=policy)
    _print_report(report)
    return 0


def sync(
    name: Name,
    max_file_size: MaxFileSize = None,
    follow_links: FollowLinks = False,
) -> int:
    """Re-read the added paths: re-parse changed files, add new ones, purge files deleted
    from disk."""
    policy = _policy(max_file_size, follow_links)
    with _open(name) as kb:
        kb.embedder  # noqa: B018 -- loaded before the bar starts
        with bar("bytes", f"syncing {name}", transient=True) as draw:
            report = kb.sync(on_progress=_drawn(draw, f"syncing {name}"), policy=policy)
    _print_report(report)
    return 0


def forget(
    name: Name,
    paths: Annotated[list[Path], Arg(help="Stored files, or folders: every file under them.")],
) -> int:
    """Remove files from a knowledge base (the files on disk are not touched)."""
    with _open(name) as kb:
        removed = kb.forget(list(paths))
        returning = {p: kb.source_of(p) for p in removed}
    for path in removed:
        print(f"removed {path}")
        if source := returning[path]:
            print(f"note: `kb sync` adds it again while it is under {source}", file=sys.stderr)
    return 0


def _print_hits(hits: list[Hit]) -> None:
    for n, hit in enumerate(hits, start=1):
        similarity = "" if hit.similarity is None else f", similarity {hit.similarity:.3f}"
        print(f"[{n}] {hit.chunk.where}  (score {hit.score:.4f}{similarity})")
        print("    " + " ".join(hit.chunk.text.split())[:300])


@from_settings(SearchOptions, "searched", flags={"k": ("-k",), "path_glob": ("--glob",)})
def search(
    name: Name,
    query: Annotated[str, Arg(help="What to look for.")],
    searched: dict[str, Any] | None = None,  # SearchOptions' fields given
    as_json: AsJson = False,
) -> int:
    """Ranked chunks for a query: source, page, heading, score."""
    from danlu.engine.sampling import validated

    options = validated(SearchOptions, **(searched or {}))
    with _open(name) as kb:
        hits = kb.search(query, options)
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
    elif not hits:
        print("no matching chunks", file=sys.stderr)
    else:
        _print_hits(hits)
    return 0


@from_settings(AskOptions, "asked", flags={"k": ("-k",), "max_tokens": ("-n", "--n-predict")})
def ask(
    name: Name,
    question: Annotated[str, Arg(help="The question.")],
    model: Annotated[
        str | None, Opt("--model", "-m", help="Model (default: DANLU_DEFAULT_MODEL).")
    ] = None,
    asked: dict[str, Any] | None = None,  # AskOptions' fields given
    show_sources: Annotated[bool, Opt("--show-sources", help="Print the sources used.")] = False,
    temp: Annotated[float | None, Opt("--temp", help="Temperature; 0 is greedy.")] = None,
    as_json: AsJson = False,
) -> int:
    """Answer from the knowledge base, streaming, citing sources by number."""
    import danlu
    from danlu.engine.sampling import validated

    options = validated(AskOptions, **(asked or {}))
    params = {} if temp is None else {"temperature": temp}
    with _open(name) as kb:
        # the model loads only when a source passes the floor: else "I don't know"
        events = kb.stream_ask(question, lambda: danlu.load(model), options, **params)
        answer = _stream(events, show_sources, as_json)
    _finish_answer(answer, as_json)
    return 0


def _stream(events, show_sources: bool, as_json: bool):
    """Print an answer's events as they come; return the finished Answer."""
    answer = None
    for event in events:
        if event.sources is not None and show_sources and not as_json:
            _print_hits(list(event.sources))
            print()
        if event.text and not as_json:
            print(event.text, end="", flush=True)
        answer = event.answer or answer
    return answer


def _finish_answer(answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    print()
    for c in answer.citations:
        how = " (attributed)" if c.attributed else ""
        print(f"[{c.number}] {c.hit.chunk.where if c.hit else '(no such source)'}{how}")
    for notice in answer.notices:
        print(f"note: {notice}", file=sys.stderr)


def ls(as_json: AsJson = False) -> int:
    """List knowledge bases."""
    import danlu.kb

    names = danlu.kb.list_names()
    print(json.dumps(names) if as_json else "\n".join(names))
    return 0


def show(name: Name, as_json: AsJson = False) -> int:
    """A knowledge base's store, embedder, chunking, sources and row counts."""
    with _open(name) as kb:
        info = kb.info()
    body = {
        "name": info.name,
        "store": info.url,
        "embedder": info.embedder,
        "dimension": info.dimension,
        "chunking": info.chunking.model_dump(),
        "sources": list(info.sources),
        "counts": info.counts,
    }
    if as_json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    for key, value in body.items():
        print(f"  {key:<10} {value}")
    return 0


def rm(names: Annotated[list[str], Arg(help="Knowledge base name(s).")]) -> int:
    """Delete knowledge bases and all their data."""
    import danlu.kb

    for name in names:
        danlu.kb.remove(name)
        print(f"deleted {name}")
    return 0


def eval_kb(
    name: Name,
    questions: Annotated[Path, Arg(help="JSONL: question, gold, contains, unanswerable.")],
    k: Annotated[int, Opt("-k", help="Cut-off for hit rate and nDCG.")] = 5,
    model: Annotated[
        str | None, Opt("--model", "-m", help="Also score answers with this model.")
    ] = None,
    as_json: AsJson = False,
) -> int:
    """Retrieval metrics (hit rate@k, MRR, nDCG), and answer metrics with --model."""
    import danlu
    from danlu.kb.evaluate import evaluate, read_questions, report_json

    qs = read_questions(questions)
    with _open(name) as kb:
        if model is None:
            report = evaluate(kb, qs, k)
        else:
            with danlu.load(model) as loaded:
                report = evaluate(kb, qs, k, loaded)
    if as_json:
        print(report_json(report))
        return 0
    for key, value in report.__dict__.items():
        if key != "misses" and value is not None:
            print(
                f"  {key:<18} {value:.3f}" if isinstance(value, float) else f"  {key:<18} {value}"
            )
    for miss in report.misses:
        print(f"  missed: {miss}")
    return 0


COMMANDS = {
    "create": create,
    "add": add,
    "sync": sync,
    "forget": forget,
    "search": search,
    "ask": ask,
    "ls": ls,
    "show": show,
    "rm": rm,
    "eval": eval_kb,
}


def group() -> typer.Typer:
    """The `danlu kb` sub-command group."""
    return command_group(
        "kb", "Knowledge bases: answer from your documents, with citations.", COMMANDS
    )

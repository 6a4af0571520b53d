"""`KnowledgeBase`: one named knowledge base, its store, embedder and settings.

Where each lives under DANLU_HOME/kb: `<name>.sqlite` (the embedded store), or
`<name>.url` holding a PostgreSQL URL (the data is in schema `kb_<name>` there). What
the KB was built with (embedder and dimension, chunk settings) is recorded in the store,
so it is opened the same way every time and a different embedder is refused.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from danlu.atomic import write_text_atomic
from danlu.config import Settings
from danlu.errors import InvalidRequest
from danlu.kb.answer import Answer, AnswerEvent, AskOptions, abstention, collect, stream_answer
from danlu.kb.chunking import Chunker, ChunkSettings
from danlu.kb.discover import discover
from danlu.kb.embedders import DEFAULT_EMBEDDER, Embedder, open_embedder
from danlu.kb.errors import (
    EmbedderMismatch,
    KnowledgeBaseExists,
    KnowledgeBaseNotFound,
    StoreUnavailable,
)
from danlu.kb.ingest import Ingester, IngestReport, OnIngestStep
from danlu.kb.policy import ReadPolicy
from danlu.kb.rerank import CrossEncoderReranker
from danlu.kb.retrieve import Hit, QueryCache, Retriever, SearchOptions
from danlu.kb.stores import Store, open_store, sqlite_url
from danlu.kb.terms import Segmenter

if TYPE_CHECKING:
    from danlu.model import Model

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
HEADING_ROOM = 16  # tokens of an embedder's input kept for the chunk's heading path
BATCH = 512  # chunks embedded together: sorted by length within a batch, so larger pads less


@dataclass(frozen=True)
class KBInfo:
    """What `kb show` prints."""

    name: str
    url: str
    embedder: str
    dimension: int
    chunking: ChunkSettings
    sources: tuple[str, ...]
    counts: dict[str, int]


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidRequest(
            f"'{name}' is not a valid knowledge base name",
            hint="use letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def store_url(name: str, settings: Settings) -> str | None:
    """The store URL of knowledge base `name`, or None when there is none."""
    folder = settings.kb_dir
    if (folder / f"{name}.sqlite").exists():
        return sqlite_url(folder / f"{name}.sqlite")
    pointer = folder / f"{name}.url"
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None


def list_names(settings: Settings | None = None) -> list[str]:
    folder = (settings or Settings()).kb_dir
    if not folder.is_dir():
        return []
    return sorted({p.stem for p in folder.iterdir() if p.suffix in (".sqlite", ".url")})


class KnowledgeBase:
    """A knowledge base: add and sync documents, search them, answer from them."""

    def __init__(
        self,
        name: str,
        store: Store,
        embedder: Embedder | None = None,
        embedders: Callable[[str], Embedder] = open_embedder,
    ) -> None:
        self.name, self.store = name, store
        self._open_embedder = embedders  # spec -> embedder: a caller's cache, or a fresh load
        meta = store.meta()
        if "embedder" not in meta:
            raise StoreUnavailable(
                f"knowledge base '{name}' at {store.url} is incomplete (its creation was cut off)",
                hint=f"remove it with `danlu kb rm {name}` and create it again",
            )
        self.embedder_name = meta["embedder"]
        self.dimension = int(meta["dimension"])
        self.chunking = ChunkSettings(
            size=int(meta["chunk_size"]), overlap=int(meta["chunk_overlap"])
        )
        self._embedder = self._checked(embedder) if embedder is not None else None
        self.segmenter = Segmenter()
        self._rerankers: dict[str, CrossEncoderReranker] = {}
        self.query_vectors = QueryCache()

    def _checked(self, embedder: Embedder) -> Embedder:
        if embedder.name != self.embedder_name or embedder.dimension != self.dimension:
            raise EmbedderMismatch(
                f"knowledge base '{self.name}' was built with embedder '{self.embedder_name}' "
                f"({self.dimension} dimensions), not '{embedder.name}' ({embedder.dimension})",
                hint=f"use {self.embedder_name}, or build a new knowledge base",
            )
        return embedder

    @property
    def embedder(self) -> Embedder:
        """The recorded embedder, loaded on first use."""
        if self._embedder is None:
            self._embedder = self._checked(self._open_embedder(self.embedder_name))
        return self._embedder

    def _ingester(self, batch: int = BATCH, policy: ReadPolicy | None = None) -> Ingester:
        chunker = Chunker(self.embedder.count_tokens, self.chunking)
        return Ingester(self.store, self.embedder, chunker, self.segmenter, batch, policy)

    @property
    def sources(self) -> list[str]:
        return json.loads(self.store.meta().get("sources", "[]"))

    def _remember(self, sources: list[str]) -> None:
        self.store.set_meta({"sources": json.dumps(sources, ensure_ascii=False)})

    def add(
        self,
        paths: list[str | Path],
        on_progress: OnIngestStep | None = None,
        batch: int = BATCH,
        policy: ReadPolicy | None = None,
    ) -> IngestReport:
        """Ingest files and folders; unchanged files are skipped, duplicates of stored
        content reported. The paths are remembered for `sync` before the first file is
        read, so an add cut short is completed, never undone, by the next sync.
        `batch`: chunks embedded at a time; `policy`: sizes, links and roots."""
        ingester = self._ingester(batch, policy)
        found = ingester.plan([Path(p).expanduser() for p in paths])
        self._remember(list(dict.fromkeys([*self.sources, *map(str, found.roots)])))
        return ingester.ingest(found.files, IngestReport(skipped=found.skipped), on_progress)

    def sync(
        self, on_progress: OnIngestStep | None = None, policy: ReadPolicy | None = None
    ) -> IngestReport:
        """Re-read the remembered paths: changed files re-parsed, new ones added, files
        deleted from disk purged. A stored file that still exists is never dropped, even
        when no remembered path reaches it any more: it is checked for changes instead."""
        policy = policy or ReadPolicy()
        found = discover([Path(p) for p in self.sources if Path(p).exists()], policy)
        report = IngestReport(skipped=found.skipped)
        for path in self.store.files():
            if not Path(path).is_file():
                self.store.remove_file(path)
                report.removed.append(path)
        listed = set(found.files)
        kept = sorted(Path(p) for p in self.store.files() if Path(p) not in listed)
        return self._ingester(policy=policy).ingest(found.files + kept, report, on_progress)

    def forget(self, paths: list[str | Path]) -> list[str]:
        """Remove stored files (a folder: every stored file under it) from the knowledge
        base, and forget those paths as sources; the files on disk are not touched.
        A path that matches nothing stored is an error, before anything is removed."""
        stored = list(self.store.files())
        targets: dict[str, None] = {}
        for given in paths:
            path = Path(given).expanduser().resolve()
            matched = [p for p in stored if Path(p).is_relative_to(path)]
            if not matched:
                raise InvalidRequest(
                    f"{given} is not in knowledge base '{self.name}'",
                    hint="give a path as `kb search` prints it, or a folder above it",
                )
            targets.update(dict.fromkeys(matched))
        for path in targets:
            self.store.remove_file(path)
        gone = {str(Path(p).expanduser().resolve()) for p in paths}
        self._remember([s for s in self.sources if s not in gone])
        return list(targets)

    def source_of(self, path: str) -> str | None:
        """The remembered folder that `sync` reads `path` from again, if any."""
        return next((s for s in self.sources if Path(path).is_relative_to(s)), None)

    def search(self, query: str, options: SearchOptions | None = None, **changes: Any) -> list[Hit]:
        """Ranked chunks for `query`; `changes` override fields of SearchOptions."""
        if not query.strip():
            raise InvalidRequest("the query is empty", hint="say what to look for")
        base = options.model_dump() if options is not None else {}
        options = SearchOptions.model_validate({**base, **changes})
        retriever = Retriever(
            self.store, self.embedder, self.segmenter, self.reranker, self.query_vectors
        )
        return retriever.search(query, options)

    def reranker(self, spec: str) -> CrossEncoderReranker:
        """The cross-encoder `spec` names, loaded once for this KB object."""
        if spec not in self._rerankers:
            self._rerankers[spec] = CrossEncoderReranker(spec)
        return self._rerankers[spec]

    def sources_for(self, question: str, options: AskOptions | None = None) -> list[Hit]:
        """The chunks an answer to `question` may cite: the best k over the floor."""
        return self.search(question, (options or AskOptions()).search())

    def stream_ask(
        self,
        question: str,
        model: Model | Callable[[], AbstractContextManager[Model]],
        options: AskOptions | None = None,
        **params: Any,
    ) -> Iterator[AnswerEvent]:
        """Retrieve, then answer, streaming (see danlu.kb.answer): first the `sources`
        found, before any model loads, then the answer's text, then the Answer.

        `model` is a loaded Model, or a function returning a context that lends one
        (`lambda: danlu.load(name)`, a pool's hold), entered only when there are hits:
        nothing over the floor is "I don't know" without loading a model. `params`:
        sampling (temperature, ...) for `Model.stream_chat`; a `max_tokens` there wins
        over the options'.
        """
        options = options or AskOptions()
        if (limit := params.pop("max_tokens", None)) is not None:
            options = options.model_copy(update={"max_tokens": limit})
        hits = self.sources_for(question, options)
        yield AnswerEvent(sources=tuple(hits))
        if not hits:
            yield from _after_sources(abstention())
            return
        lend = model if callable(model) and not hasattr(model, "stream_chat") else None
        with lend() if lend else nullcontext(model) as loaded:
            answer = self.stream_answer(question, hits, loaded, options.max_tokens, **params)
            yield from _after_sources(answer)

    def stream_answer(
        self,
        question: str,
        hits: list[Hit],
        model: Model | None,
        max_tokens: int | None = None,
        **params: Any,
    ) -> Iterator[AnswerEvent]:
        """Answer from hits already retrieved; `model` may be None when there are none
        (the answer is then an abstention, and no model need be loaded)."""
        terms = self.segmenter.query_terms
        yield from stream_answer(model, question, hits, terms, max_tokens, **params)

    def ask(
        self,
        question: str,
        model: Model | Callable[[], AbstractContextManager[Model]],
        options: AskOptions | None = None,
        **params: Any,
    ) -> Answer:
        return collect(self.stream_ask(question, model, options, **params))

    def info(self) -> KBInfo:
        return KBInfo(
            self.name,
            self.store.url,
            self.embedder_name,
            self.dimension,
            self.chunking,
            tuple(self.sources),
            self.store.counts(),
        )

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _after_sources(events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
    """An answer's events less its `sources` one (`stream_ask` gave them already)."""
    return (event for event in events if event.sources is None)


def create(
    name: str,
    *,
    settings: Settings | None = None,
    embedder: str | Embedder = DEFAULT_EMBEDDER,
    store: str | None = None,
    chunking: ChunkSettings | None = None,
) -> KnowledgeBase:
    """Make a new knowledge base; `store` is a PostgreSQL URL, or None for a SQLite file."""
    settings = settings or Settings()
    if store_url(check_name(name), settings) is not None:
        raise KnowledgeBaseExists(
            f"a knowledge base named '{name}' already exists",
            hint=f"add to it with `danlu kb add {name} PATH`, or remove it first",
        )
    model = open_embedder(embedder) if isinstance(embedder, str) else embedder
    chunking = chunking or ChunkSettings(size=min(200, model.max_tokens - HEADING_ROOM))
    if chunking.size > model.max_tokens - HEADING_ROOM:
        raise InvalidRequest(
            f"chunks of {chunking.size} tokens do not fit embedder '{model.name}', which "
            f"reads {model.max_tokens} (less {HEADING_ROOM} for the heading path)",
            hint=f"use --chunk-size {model.max_tokens - HEADING_ROOM} or less",
        )
    settings.kb_dir.mkdir(parents=True, exist_ok=True)
    url = store or sqlite_url(settings.kb_dir / f"{name}.sqlite")
    opened = open_store(url, name, model.dimension)
    if "embedder" in opened.meta():  # a server-side KB another DANLU_HOME made
        opened.close()
        raise KnowledgeBaseExists(
            f"{url} already holds a knowledge base named '{name}'",
            hint="pick another name, or remove that one first",
        )
    opened.set_meta(
        {
            "name": name,
            "embedder": model.name,
            "dimension": str(model.dimension),
            "chunk_size": str(chunking.size),
            "chunk_overlap": str(chunking.overlap),
        }
    )
    if store is not None:
        write_text_atomic(settings.kb_dir / f"{name}.url", store + "\n")
    return KnowledgeBase(name, opened, model)


def open_kb(
    name: str,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    embedders: Callable[[str], Embedder] = open_embedder,
) -> KnowledgeBase:
    """Open knowledge base `name`; `embedder` (optional) must be the one it was built with.

    `embedders` loads the recorded embedder on first use, from its spec: a long-lived caller
    (the server, the page) passes its cache, so each embedder loads once per process."""
    settings = settings or Settings()
    url = store_url(check_name(name), settings)
    if url is None:
        raise KnowledgeBaseNotFound(
            f"no knowledge base named '{name}'",
            hint=f"create it with `danlu kb create {name}`; `danlu kb ls` lists them",
        )
    return KnowledgeBase(name, open_store(url, name), embedder, embedders)


class EmbedderCache:
    """Embedders by spec, each loaded once: `open_kb(..., embedders=cache)` (the server's
    routes and the page keep one; `kb ask` after `kb search` in one process reuses it)."""

    def __init__(self) -> None:
        self._loaded: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def __call__(self, spec: str) -> Embedder:
        with self._lock:  # two requests asking at once load it once
            if spec not in self._loaded:
                self._loaded[spec] = open_embedder(spec)
            return self._loaded[spec]


def remove(name: str, *, settings: Settings | None = None) -> None:
    """Delete a knowledge base and all its data."""
    settings = settings or Settings()
    with open_kb(name, settings=settings) as kb:
        kb.store.destroy()
    (settings.kb_dir / f"{name}.url").unlink(missing_ok=True)

"""Ingestion: files to chunks, vectors and keyword rows, resumable and idempotent.

1. Walk the given paths (folders recursively, hidden entries skipped) in sorted order.
2. A file whose path and SHA-256 are already stored is unchanged: nothing is done.
3. Others are read by their loader and chunked; an unreadable file is reported, skipped,
   and any older version of it purged.
4. Chunks of several files are embedded as one batch, then each file is committed in its
   own transaction (row, chunks, vectors, keyword rows together).
A run killed at any point leaves every file either as before or fully replaced, so the
next run skips what was committed and carries on with the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from danlu.errors import InvalidRequest
from danlu.kb.chunking import Chunk, Chunker
from danlu.kb.embedders import Embedder
from danlu.kb.errors import UnreadableDocument
from danlu.kb.loaders import load_document, supported
from danlu.kb.stores import FileRecord, Store
from danlu.kb.terms import Segmenter


@dataclass
class IngestReport:
    """What an add or sync did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    chunks: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class Progress:
    """A step of an ingest, for a progress bar: `done` of `total` files, `chunks` so far."""

    done: int
    total: int
    chunks: int
    path: str


OnProgress = Callable[[Progress], None]


@dataclass
class Pending:
    record: FileRecord
    chunks: list[Chunk]
    known: bool


def missing(paths: Iterable[Path]) -> list[Path]:
    return [p for p in paths if not Path(p).exists()]


def discover(paths: Iterable[Path]) -> list[Path]:
    """Every file under `paths` (absolute, sorted, no duplicates, hidden entries skipped)."""
    found: dict[Path, None] = {}
    for root in paths:
        root = Path(root).expanduser().resolve()
        if root.is_file():
            found[root] = None
            continue
        for path in sorted(root.rglob("*")):
            hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
            if path.is_file() and not hidden:
                found[path] = None
    return list(found)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Ingester:
    """Adds files to a store through a chunker, an embedder and a keyword segmenter."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        chunker: Chunker,
        segmenter: Segmenter,
        batch_chunks: int = 64,
    ) -> None:
        self.store, self.embedder, self.chunker = store, embedder, chunker
        self.segmenter, self.batch_chunks = segmenter, batch_chunks

    def add(self, paths: list[Path], on_progress: OnProgress | None = None) -> IngestReport:
        """Ingest `paths` (files or folders); missing paths are an error before anything."""
        if gone := missing(paths):
            raise InvalidRequest(
                f"no such file or folder: {gone[0]}", hint="nothing was added; check the path"
            )
        return self.ingest(discover(paths), IngestReport(), on_progress)

    def ingest(
        self, files: list[Path], report: IngestReport, on_progress: OnProgress | None
    ) -> IngestReport:
        known = self.store.files()
        pending: list[Pending] = []
        for done, path in enumerate(files, start=1):
            item = self._prepare(path, known.get(str(path)), report)
            if item is not None:
                pending.append(item)
            if sum(len(p.chunks) for p in pending) >= self.batch_chunks or done == len(files):
                self._commit(pending, report)
                pending = []
            if on_progress:
                on_progress(Progress(done, len(files), report.chunks, str(path)))
        return report

    def _prepare(self, path: Path, old: FileRecord | None, report: IngestReport) -> Pending | None:
        """Read and chunk a new or changed file; None when unchanged or unreadable."""
        if not supported(path) and old is None:
            report.skipped.append((str(path), f"unsupported file type '{path.suffix}'"))
            return None
        digest = sha256_of(path)
        if old is not None and old.sha256 == digest:
            report.unchanged.append(str(path))
            return None
        try:
            chunks = self.chunker.chunks(load_document(path))
        except UnreadableDocument as exc:
            report.skipped.append((str(path), exc.one_line()))
            if old is not None:  # its old text is no longer what the file says
                self.store.remove_file(str(path))
                report.removed.append(str(path))
            return None
        record = FileRecord(str(path), digest, path.stat().st_size, len(chunks))
        return Pending(record, chunks, old is not None)

    def _commit(self, pending: list[Pending], report: IngestReport) -> None:
        """Embed the pending files' chunks in one batch; commit each file on its own."""
        texts = [c.indexed_text for p in pending for c in p.chunks]
        if not texts:
            return
        vectors = self.embedder.embed(texts)  # (n, d)
        at = 0
        for item in pending:
            n = len(item.chunks)
            terms = [" ".join(self.segmenter.terms(t)) for t in texts[at : at + n]]
            self.store.put_file(item.record, item.chunks, vectors[at : at + n], terms)
            at += n
            report.chunks += n
            (report.updated if item.known else report.added).append(item.record.path)


def vanished(store: Store, present: Iterator[Path] | list[Path]) -> list[str]:
    """Stored paths that are no longer among `present` or no longer exist."""
    here = {str(p) for p in present}
    return [p for p in store.files() if p not in here or not Path(p).exists()]

"""Ingestion: files to chunks, vectors and keyword rows; streamed, resumable, idempotent.

1. The files come from danlu/kb/discover.py, under a ReadPolicy (sizes, links, roots).
2. A file whose path and SHA-256 are stored already is unchanged: nothing is done. One
   whose content is stored under another path is a duplicate: reported, not stored twice.
   Stored files are read first, so a copy is only ever compared with current content.
3. A file over the policy's size limit is skipped. Others are read by their loader as a
   stream of blocks and chunked as they come; an unreadable file is reported, skipped,
   and any older version of it purged.
4. Small files' chunks are embedded together as one batch, then each file is committed
   in its own transaction. A file with more chunks than a batch is written on its own:
   its chunks are embedded a batch at a time inside its transaction, so memory stays
   bounded whatever the file's size, and progress moves within the file.
A run killed at any point leaves every file either as before or fully replaced, so the
next run skips what was committed and carries on with the rest. An exception raised by
the progress callback (a client that went away, Ctrl-C) stops the run the same way.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from danlu.errors import PayloadTooLarge
from danlu.kb.chunking import Chunk, Chunker
from danlu.kb.discover import Found, discover
from danlu.kb.embedders import Embedder
from danlu.kb.errors import UnreadableDocument
from danlu.kb.loaders import read_blocks, supported
from danlu.kb.loaders.base import unreadable
from danlu.kb.policy import ReadPolicy
from danlu.kb.stores import ChunkRows, FileRecord, Store
from danlu.kb.stores.base import space_needed
from danlu.kb.terms import Segmenter
from danlu.units import human_size

READ = 1 << 20  # bytes hashed at a time


@dataclass
class IngestReport:
    """What an add or sync did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, stored as)
    chunks: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class IngestStep:
    """A step of an ingest, for a progress bar: `done` of `total` files, `chunks` so far,
    and `bytes_done` of `bytes_total`, which moves within a large file too. Richer than a
    `danlu.progress.Progress` event, since `GET /v1/kb/{name}` shows each figure; the CLI
    draws it on its one bar (files and chunks in the label, over the bytes)."""

    done: int
    total: int
    chunks: int
    path: str
    bytes_done: int = 0
    bytes_total: int = 0


OnIngestStep = Callable[[IngestStep], None]


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class Tracker:
    """Counts files and bytes as they are read and tells `on_progress`."""

    def __init__(self, files: list[Path], report: IngestReport, on_progress: OnIngestStep | None):
        self.total, self.bytes_total = len(files), sum(size_of(f) for f in files)
        self.report, self.on_progress = report, on_progress
        self.done, self.bytes_before, self.path = 0, 0, ""
        self.stream: BinaryIO | None = None

    def reading(self, path: Path, stream: BinaryIO | None = None) -> None:
        self.path, self.stream = str(path), stream

    def finished(self, path: Path) -> None:
        self.done, self.stream = self.done + 1, None
        self.bytes_before += size_of(path)
        self.tell()

    def tell(self, chunks_in_flight: int = 0) -> None:
        if self.on_progress is None:
            return
        at = self.stream.tell() if self.stream is not None and not self.stream.closed else 0
        self.on_progress(
            IngestStep(
                self.done,
                self.total,
                self.report.chunks + chunks_in_flight,
                self.path,
                min(self.bytes_before + at, self.bytes_total),
                self.bytes_total,
            )
        )


@dataclass
class Pending:
    record: FileRecord
    chunks: list[Chunk]
    known: bool


def sha256_of(stream: BinaryIO, path: Path) -> str:
    """The SHA-256 of the whole stream, which is left at its start."""
    digest = hashlib.sha256()
    try:
        for block in iter(lambda: stream.read(READ), b""):
            digest.update(block)
        stream.seek(0)
    except OSError as exc:
        raise unreadable(path, exc.strerror or exc) from None
    return digest.hexdigest()


@contextmanager
def opened(path: Path) -> Iterator[BinaryIO]:
    """`path` for reading, refusing a final symbolic link (one swapped in after the walk)."""
    try:
        stream = os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb")
    except OSError as exc:
        raise unreadable(path, exc.strerror or exc) from None
    with stream:
        yield stream


def batched(items: Iterable[Chunk], n: int) -> Iterator[list[Chunk]]:
    """Lists of `n` items (the last may be shorter); itertools.batched from Python 3.12."""
    iterator = iter(items)
    while group := list(itertools.islice(iterator, n)):
        yield group


def check_total(files: list[Path], known: dict[str, FileRecord], policy: ReadPolicy) -> None:
    """PayloadTooLarge when the new or changed files (by size) outgrow max_add_size."""
    if policy.max_add_size is None:
        return
    total = 0
    for path in files:
        size, old = size_of(path), known.get(str(path))
        if size > policy.max_file_size or not supported(path) or (old and old.size == size):
            continue  # skipped, or most likely unchanged: hashed but not read
        total += size
    if total > policy.max_add_size:
        raise PayloadTooLarge(
            f"this add would read {human_size(total)} of new or changed files, over the "
            f"{human_size(policy.max_add_size)} one add may read",
            hint="add fewer files at a time",
        )


class Ingester:
    """One add or sync: files into a store through a chunker, an embedder and a segmenter."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        chunker: Chunker,
        segmenter: Segmenter,
        batch_chunks: int = 64,
        policy: ReadPolicy | None = None,
    ) -> None:
        self.store, self.embedder, self.chunker = store, embedder, chunker
        self.segmenter, self.batch_chunks = segmenter, batch_chunks
        self.policy = policy or ReadPolicy()
        self.pending: list[Pending] = []
        self.hashes: dict[str, str] = {}  # sha256 -> the path stored with that content
        self.tracker = Tracker([], IngestReport(), None)

    def plan(self, paths: list[Path]) -> Found:
        """The files an add of `paths` reads; errors (a missing path, a path outside the
        roots, too much to read) come here, before anything is read or remembered."""
        found = discover(paths, self.policy)
        check_total(found.files, self.store.files(), self.policy)
        return found

    def ingest(
        self, files: list[Path], report: IngestReport, on_progress: OnIngestStep | None = None
    ) -> IngestReport:
        known = self.store.files()
        # a stored file's content counts as stored once this run has read it again (stored
        # files are read first), so a copy is never taken for a file whose content changed
        listed = {str(p) for p in files}
        self.hashes = {r.sha256: r.path for r in known.values() if r.path not in listed}
        files = sorted(files, key=lambda p: str(p) not in known)
        self.tracker = tracker = Tracker(files, report, on_progress)
        tracker.tell()
        for path in files:
            tracker.reading(path)
            self._file(path, known.get(str(path)), report)
            tracker.finished(path)
        self._flush(report)
        return report

    def _file(self, path: Path, old: FileRecord | None, report: IngestReport) -> None:
        """One file: unchanged, skipped, a duplicate, pending in the batch, or written."""
        key, size = str(path), size_of(path)
        if not supported(path) and old is None:
            report.skipped.append((key, f"unsupported file type '{path.suffix}'"))
            return
        if size > self.policy.max_file_size and old is None:
            report.skipped.append((key, self._too_large(size)))
            return
        try:
            with opened(path) as stream:
                self.tracker.reading(path, stream)
                self._read(FileRecord(key, sha256_of(stream, path), size), stream, old, report)
        except UnreadableDocument as exc:
            report.skipped.append((key, exc.one_line()))
            self._purge(old, report)  # its old text is no longer what the file says

    def _read(self, record: FileRecord, stream: BinaryIO, old, report: IngestReport) -> None:
        if old is not None and old.sha256 == record.sha256:
            report.unchanged.append(record.path)
            self.hashes.setdefault(record.sha256, record.path)
            return
        if record.size > self.policy.max_file_size:
            report.skipped.append((record.path, self._too_large(record.size)))
            self._purge(old, report)
            return
        if (stored_as := self.hashes.get(record.sha256)) is not None:
            report.duplicates.append((record.path, stored_as))
            self._purge(old, report)
            return
        if self.pending_count >= self.batch_chunks:
            self._flush(report)
        room = self.batch_chunks - self.pending_count
        chunks = self.chunker.stream(read_blocks(Path(record.path), stream))
        try:
            head = list(itertools.islice(chunks, room + 1))
            if len(head) <= room:  # the whole file: it joins the batch
                self.pending.append(Pending(record, head, old is not None))
                self._own(record.sha256, record.path, old)
                return
            self._flush(report)
            self._write_alone(record, itertools.chain(head, chunks), old, report)
        finally:
            chunks.close()  # the loader lets go of the file before it is closed

    def _write_alone(self, record: FileRecord, chunks, old, report: IngestReport) -> None:
        """A large file in one transaction, embedded a batch at a time as it is written."""
        written = 0

        def batches() -> Iterator[ChunkRows]:
            nonlocal written
            for group in batched(chunks, self.batch_chunks):
                rows = self._rows(group)
                written += len(group)
                self.tracker.tell(written)
                yield rows

        self.store.put_file(record, batches(), self._needed())
        report.chunks += written
        (report.updated if old is not None else report.added).append(record.path)
        self._own(record.sha256, record.path, old)

    def _flush(self, report: IngestReport) -> None:
        """Embed the pending files' chunks in one batch; commit each file on its own."""
        pending, self.pending = self.pending, []
        chunks = [c for p in pending for c in p.chunks]
        if not chunks:
            return
        rows, at = self._rows(chunks), 0
        needed = self._needed(pending)
        for item in pending:
            n = len(item.chunks)
            part = ChunkRows(item.chunks, rows.vectors[at : at + n], rows.terms[at : at + n])
            self.store.put_file(item.record, [part], needed)
            at += n
            report.chunks += n
            (report.updated if item.known else report.added).append(item.record.path)

    def _rows(self, chunks: list[Chunk]) -> ChunkRows:
        texts = [c.indexed_text for c in chunks]
        terms = [" ".join(self.segmenter.terms(t)) for t in texts]
        return ChunkRows(chunks, self.embedder.embed(texts), terms)  # vectors (n, d)

    def _needed(self, pending: Sequence[Pending] = ()) -> int:
        """About the space the rest of this run takes (for a full disk's error): the files
        not read yet, and those read but not written."""
        left = self.tracker.bytes_total - self.tracker.bytes_before
        left += sum(p.record.size for p in pending)
        return space_needed(left, self.embedder.dimension)

    @property
    def pending_count(self) -> int:
        return sum(len(p.chunks) for p in self.pending)

    def _own(self, digest: str, path: str, old: FileRecord | None) -> None:
        """Record that `path` now holds the content `digest` (and no longer its old one)."""
        if old is not None and self.hashes.get(old.sha256) == path:
            del self.hashes[old.sha256]
        self.hashes.setdefault(digest, path)

    def _purge(self, old: FileRecord | None, report: IngestReport) -> None:
        if old is None:
            return
        self.store.remove_file(old.path)
        report.removed.append(old.path)
        if self.hashes.get(old.sha256) == old.path:
            del self.hashes[old.sha256]

    def _too_large(self, size: int) -> str:
        limit = human_size(self.policy.max_file_size)
        return f"{human_size(size)}, over the {limit} limit for one file"

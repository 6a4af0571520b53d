"""The store interface every backend implements, and the records it keeps.

A store holds three things per chunk: its row (text, source, page, headings, offsets),
its vector, and its keyword terms. They change together, one file per transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from danlu.kb.chunking import Chunk


@dataclass(frozen=True)
class FileRecord:
    """A source file as the store knows it: keyed by path, versioned by content hash."""

    path: str
    sha256: str
    size: int
    chunks: int = 0


@dataclass(frozen=True)
class StoredChunk:
    """A chunk read back from a store, with its id and source path."""

    id: int
    path: str
    ordinal: int
    text: str
    page: int | None
    headings: tuple[str, ...]
    start: int
    end: int

    @property
    def where(self) -> str:
        """`path, p. 3, Heading > Sub` for citations."""
        parts = [self.path]
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.headings:
            parts.append(" > ".join(self.headings))
        return ", ".join(parts)


@dataclass(frozen=True)
class ChunkRows:
    """Some of one file's chunks, with their vectors, shape (n, d), and keyword terms."""

    chunks: Sequence[Chunk]
    vectors: np.ndarray
    terms: list[str]


Scored = list[tuple[int, float]]
"""(chunk id, score) pairs, best first."""


class Store(Protocol):
    """A vector + keyword store for one knowledge base."""

    url: str

    def meta(self) -> dict[str, str]: ...

    def set_meta(self, values: dict[str, str]) -> None: ...

    def files(self) -> dict[str, FileRecord]: ...

    def put_file(
        self, record: FileRecord, batches: Iterable[ChunkRows], needed: int | None = None
    ) -> int:
        """Replace everything stored for `record.path` with the rows of `batches`, in one
        transaction, and return how many chunks were written. `batches` is read inside
        the transaction (a large file's chunks are embedded as it is written); anything
        it raises rolls the whole file back. `needed`: bytes the rest of the work is
        expected to take, for the error a full disk raises (DiskFull)."""
        ...

    def remove_file(self, path: str) -> None:
        """Delete a file's row, chunks, vectors and keyword rows in one transaction."""
        ...

    def dense(self, vector: np.ndarray, k: int, path_glob: str | None = None) -> Scored:
        """Nearest chunks by cosine similarity (higher is closer)."""
        ...

    def keyword(self, terms: list[str], k: int, path_glob: str | None = None) -> Scored:
        """Chunks matching any of `terms`, by the store's text ranking (higher is better)."""
        ...

    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]: ...

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of `ids`, in that order, shape (len(ids), dimension)."""
        ...

    def counts(self) -> dict[str, int]:
        """Rows in each table (files, chunks, vectors, keywords), for checks and `kb show`."""
        ...

    def close(self) -> None: ...

    def destroy(self) -> None:
        """Delete the whole knowledge base's data."""
        ...


def space_needed(size: int, dimension: int) -> int:
    """About how many bytes storing `size` bytes of documents takes: their text with
    overlap, keyword terms and their index (~3x), a vector per ~500 bytes, twice over
    while the write-ahead log holds them."""
    return 2 * (3 * size + (size // 500 + 1) * dimension * 4)


def headings_json(chunk: Chunk) -> str:
    return json.dumps(list(chunk.headings), ensure_ascii=False)


def stored_chunk(row: Sequence) -> StoredChunk:
    """A StoredChunk from (id, path, ordinal, text, page, headings-json, start, end)."""
    cid, path, ordinal, text, page, headings, start, end = row
    return StoredChunk(cid, path, ordinal, text, page, tuple(json.loads(headings)), start, end)

"""Stores, a registry by URL scheme: `sqlite:///path/kb.sqlite` or `postgresql://...`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from danlu.errors import InvalidRequest
from danlu.kb.stores.base import ChunkRows, FileRecord, Scored, Store, StoredChunk

# scheme -> "module:opener" inside danlu.kb.stores
STORES: dict[str, str] = {
    "sqlite": "sqlite:open_url",
    "postgresql": "postgres:open_url",
    "postgres": "postgres:open_url",
}

__all__ = [
    "STORES",
    "ChunkRows",
    "FileRecord",
    "Scored",
    "Store",
    "StoredChunk",
    "open_store",
    "sqlite_url",
]

Opener = Callable[[str, str, "int | None"], Store]


def sqlite_url(path: Path) -> str:
    """`sqlite:///abs/path.sqlite`: the scheme, then the absolute path."""
    return f"sqlite://{Path(path).resolve()}"


def open_store(url: str, kb_name: str, dimension: int | None = None) -> Store:
    """Open (and migrate) the store at `url`; `dimension` is needed when it is new."""
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    target = STORES.get(scheme)
    if target is None or "://" not in url:
        raise InvalidRequest(
            f"unknown store URL '{url}'",
            hint="use sqlite:///path/file.sqlite or postgresql://user@host/db",
        )
    module, name = target.split(":")
    opener: Opener = getattr(importlib.import_module(f"danlu.kb.stores.{module}"), name)
    return opener(url, kb_name, dimension)

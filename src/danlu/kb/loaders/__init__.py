"""Document loaders, a registry by file extension: one module per format.

A loader is a function `load(path) -> Document`; a new format is one more module and one
more row in LOADERS. Modules are imported when a file of their kind is read, so a
format's library (pypdf, python-docx, selectolax) is only needed for that format.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from danlu.errors import DanluError
from danlu.kb.errors import UnreadableDocument
from danlu.kb.loaders.base import Block, Document, unreadable

Loader = Callable[[Path], Document]

# extension -> "module:function" inside danlu.kb.loaders
LOADERS: dict[str, str] = {
    ".txt": "text:load",
    ".text": "text:load",
    ".md": "markdown:load",
    ".markdown": "markdown:load",
    ".html": "html:load",
    ".htm": "html:load",
    ".pdf": "pdf:load",
    ".docx": "docx:load",
    ".csv": "tabular:load_csv",
    ".json": "tabular:load_json",
    ".jsonl": "tabular:load_jsonl",
}

__all__ = ["LOADERS", "Block", "Document", "load_document", "loader_for", "supported"]


def supported(path: Path) -> bool:
    return Path(path).suffix.lower() in LOADERS


def loader_for(path: Path) -> Loader:
    """The loader for `path`'s extension; UnreadableDocument for an unknown one."""
    target = LOADERS.get(Path(path).suffix.lower())
    if target is None:
        raise UnreadableDocument(
            f"{path}: unsupported file type '{Path(path).suffix or '(none)'}'",
            hint=f"supported: {' '.join(sorted(LOADERS))}",
        )
    module, func = target.split(":")
    return getattr(importlib.import_module(f"danlu.kb.loaders.{module}"), func)


def load_document(path: Path) -> Document:
    """Read `path` into a Document; UnreadableDocument when it cannot be (never anything else
    for a bad file, so a folder with one broken file still ingests the rest)."""
    load = loader_for(path)
    try:
        return load(Path(path))
    except DanluError:  # UnreadableDocument with its reason, or a MissingExtra
        raise
    except OSError as exc:
        raise unreadable(path, exc.strerror or exc) from None
    except Exception as exc:  # a parser library choking on a malformed file
        raise unreadable(path, f"{type(exc).__name__}: {exc}") from None

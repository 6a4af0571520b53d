"""Document loaders, a registry by file extension: one module per format.

A loader is a function `load(path, stream) -> Iterable[Block]` over the open file; a new
format is one more module and one more row in LOADERS. Text formats yield their blocks as
they read (windows of a long section), so a large file never sits in memory whole.
Modules are imported when a file of their kind is read, so a format's library (pypdf,
python-docx, selectolax) is only needed for that format.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from danlu.errors import DanluError
from danlu.kb.errors import UnreadableDocument
from danlu.kb.loaders.base import Block, Document, empty, unreadable

Loader = Callable[[Path, BinaryIO], Iterable[Block]]

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

__all__ = [
    "LOADERS",
    "Block",
    "Document",
    "load_document",
    "loader_for",
    "read_blocks",
    "supported",
]


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


def read_blocks(path: Path, stream: BinaryIO) -> Iterator[Block]:
    """The blocks with text of the document open in `stream`, as they are read.

    A bad file raises UnreadableDocument, and only that (so a folder with one broken file
    still ingests the rest), possibly after some blocks: a reader discards them then.
    """
    load = loader_for(path)
    found = False
    try:
        for block in load(Path(path), stream):
            if block.text.strip():
                found = True
                yield block
    except DanluError:  # UnreadableDocument with its reason, or a MissingExtra
        raise
    except UnicodeError as exc:
        raise unreadable(path, f"not in one text encoding: {exc}") from None
    except OSError as exc:
        raise unreadable(path, exc.strerror or exc) from None
    except Exception as exc:  # a parser library choking on a malformed file
        raise unreadable(path, f"{type(exc).__name__}: {exc}") from None
    if not found:
        raise empty(path)


def load_document(path: Path) -> Document:
    """Read `path` whole into a Document (tests and tools; ingestion streams)."""
    loader_for(path)  # an unsupported type is refused before the file is opened
    try:
        with open(path, "rb") as stream:
            return Document(Path(path), tuple(read_blocks(path, stream)))
    except OSError as exc:
        raise unreadable(path, exc.strerror or exc) from None

"""What a loader yields: blocks of text with their page and headings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from danlu.kb.errors import UnreadableDocument


@dataclass(frozen=True)
class Block:
    """A run of text under one heading path, on one page (None where a format has none).
    A long section comes as several blocks, cut at a paragraph or line end when it can be."""

    text: str
    page: int | None = None
    headings: tuple[str, ...] = ()


SEPARATOR = "\n\n"  # between blocks in a document's text, where chunk offsets count


@dataclass(frozen=True)
class Document:
    """A file read whole into blocks (tests and tools; ingestion streams the blocks).
    Character offsets count in `text`, the blocks joined."""

    path: Path
    blocks: tuple[Block, ...]

    SEPARATOR = SEPARATOR

    @property
    def text(self) -> str:
        return SEPARATOR.join(b.text for b in self.blocks)


def unreadable(path: Path, why: object) -> UnreadableDocument:
    return UnreadableDocument(f"{path}: cannot be read ({why})", hint="the file is skipped")


def empty(path: Path) -> UnreadableDocument:
    return UnreadableDocument(f"{path}: no text in it", hint="the file is skipped")

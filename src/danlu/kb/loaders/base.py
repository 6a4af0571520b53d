"""What a loader returns: a document as blocks of text with their page and headings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from danlu.kb.errors import UnreadableDocument


@dataclass(frozen=True)
class Block:
    """A run of text under one heading path, on one page (None where a format has none)."""

    text: str
    page: int | None = None
    headings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """A file turned into text. Character offsets count in `text`, the blocks joined."""

    path: Path
    blocks: tuple[Block, ...]

    SEPARATOR = "\n\n"

    @property
    def text(self) -> str:
        return self.SEPARATOR.join(b.text for b in self.blocks)

    def offsets(self) -> list[int]:
        """The offset in `text` where each block starts."""
        starts, at = [], 0
        for block in self.blocks:
            starts.append(at)
            at += len(block.text) + len(self.SEPARATOR)
        return starts


def document(path: Path, blocks: list[Block]) -> Document:
    """A Document of the blocks that hold text; an empty one is unreadable."""
    kept = tuple(b for b in blocks if b.text.strip())
    if not kept:
        raise UnreadableDocument(f"{path}: no text in it", hint="the file is skipped")
    return Document(path, kept)


def unreadable(path: Path, why: object) -> UnreadableDocument:
    return UnreadableDocument(f"{path}: cannot be read ({why})", hint="the file is skipped")

"""Plain text: one block."""

from __future__ import annotations

from pathlib import Path

from danlu.kb.loaders.base import Block, Document, document
from danlu.kb.loaders.encoding import read_text


def load(path: Path) -> Document:
    return document(path, [Block(read_text(path))])

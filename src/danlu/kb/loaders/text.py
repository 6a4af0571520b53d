"""Plain text: read in windows of lines, never whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from danlu.kb.loaders.base import Block
from danlu.kb.loaders.encoding import lines, text_of, windows


def load(path: Path, stream: BinaryIO) -> Iterator[Block]:
    with text_of(stream, path) as text:
        for window in windows(lines(text)):
            yield Block(window)

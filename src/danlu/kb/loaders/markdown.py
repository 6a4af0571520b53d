"""Markdown: a block per section, each with the path of headings above it; a long
section comes in windows, each with the section's headings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from danlu.kb.loaders.base import Block
from danlu.kb.loaders.encoding import Window, lines, text_of

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def sections(pieces: Iterable[str], page: int | None = None) -> Iterator[Block]:
    """Split markdown lines (with their endings; a long line may come in pieces) at ATX
    headings outside code fences into blocks."""
    stack: list[tuple[int, str]] = []
    window = Window()
    fenced, line_start = False, True
    for piece in pieces:
        match = None
        if line_start:  # only a whole line's start can open a fence or a heading
            fenced ^= bool(FENCE.match(piece))
            match = None if fenced else HEADING.match(piece)
        line_start = piece.endswith("\n")
        if match is None:
            if (text := window.add(piece)) is not None:
                yield Block(text.strip(), page, tuple(h for _, h in stack))
            continue
        yield Block(window.rest().strip(), page, tuple(h for _, h in stack))
        level = len(match.group(1))
        stack = [(lv, h) for lv, h in stack if lv < level] + [(level, match.group(2))]
    yield Block(window.rest().strip(), page, tuple(h for _, h in stack))


def load(path: Path, stream: BinaryIO) -> Iterator[Block]:
    with text_of(stream, path) as text:
        yield from sections(lines(text))

"""Markdown: a block per section, each with the path of headings above it."""

from __future__ import annotations

import re
from pathlib import Path

from danlu.kb.loaders.base import Block, Document, document
from danlu.kb.loaders.encoding import read_text

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def sections(text: str, page: int | None = None) -> list[Block]:
    """Split markdown text at ATX headings (outside code fences) into blocks."""
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    fenced = False
    for line in text.splitlines():
        fenced ^= bool(FENCE.match(line))
        match = None if fenced else HEADING.match(line)
        if match is None:
            lines.append(line)
            continue
        blocks.append(Block("\n".join(lines).strip(), page, tuple(h for _, h in stack)))
        level = len(match.group(1))
        stack = [(lv, h) for lv, h in stack if lv < level] + [(level, match.group(2))]
        lines = []
    blocks.append(Block("\n".join(lines).strip(), page, tuple(h for _, h in stack)))
    return blocks


def load(path: Path) -> Document:
    return document(path, sections(read_text(path)))

"""Word .docx: paragraphs and tables, split into sections at Heading-styled paragraphs."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from danlu.extras import require
from danlu.kb.loaders.base import Block, unreadable

HEADING_STYLE = re.compile(r"^(?:Heading|标题)\s*(\d)$|^Title$")


def heading_level(style_name: str) -> int | None:
    match = HEADING_STYLE.match(style_name or "")
    if match is None:
        return None
    return int(match.group(1)) if match.group(1) else 1


def load(path: Path, stream: BinaryIO) -> Iterator[Block]:
    docx = require("docx", "kb", "reading .docx")
    try:
        doc = docx.Document(stream)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, docx.opc.exceptions.OpcError) as exc:
        raise unreadable(path, f"damaged .docx: {exc}") from None
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    for para in doc.paragraphs:
        level = heading_level(para.style.name if para.style is not None else "")
        if level is None:
            lines.append(para.text)
            continue
        yield Block("\n\n".join(lines).strip(), None, tuple(h for _, h in stack))
        stack = [(lv, h) for lv, h in stack if lv < level] + [(level, para.text.strip())]
        lines = []
    yield Block("\n\n".join(lines).strip(), None, tuple(h for _, h in stack))
    for table in doc.tables:
        yield Block(table_text(table))


def table_text(table) -> str:
    """A table as lines of cells joined by ' | '."""
    return "\n".join(" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows)

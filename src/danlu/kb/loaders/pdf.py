"""PDF: the text of each page, page numbers kept (1-based), a page at a time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from danlu.extras import require
from danlu.kb.loaders.base import Block, unreadable


def load(path: Path, stream: BinaryIO) -> Iterator[Block]:
    pypdf = require("pypdf", "kb", "reading PDF")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file is our error, not a log
    damaged = (pypdf.errors.PyPdfError, ValueError, KeyError, TypeError, OSError)
    try:
        reader = pypdf.PdfReader(stream)
        if reader.is_encrypted:
            raise unreadable(path, "the PDF is encrypted")
        count = len(reader.pages)
    except damaged as exc:
        raise unreadable(path, f"damaged PDF: {exc}") from None
    for number in range(count):
        try:
            text = reader.pages[number].extract_text() or ""
        except damaged as exc:
            raise unreadable(path, f"damaged PDF: {exc}") from None
        yield Block(text, page=number + 1)

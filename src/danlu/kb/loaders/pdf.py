"""PDF: the text of each page, page numbers kept (1-based)."""

from __future__ import annotations

import logging
from pathlib import Path

from danlu.extras import require
from danlu.kb.loaders.base import Block, Document, document, unreadable


def load(path: Path) -> Document:
    pypdf = require("pypdf", "kb", "reading PDF")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file is our error, not a log
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            raise unreadable(path, "the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (pypdf.errors.PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise unreadable(path, f"damaged PDF: {exc}") from None
    return document(path, [Block(text, page=n) for n, text in enumerate(pages, start=1)])

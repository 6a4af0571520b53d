"""HTML: visible text only (no scripts, styles, navigation or page chrome), split at headings.

The page is reduced to markdown-like text (block elements end paragraphs, h1-h6 become
`#` headings) and then split as markdown is. A page is parsed whole; the ingester's
per-file size limit bounds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from danlu.extras import require
from danlu.kb.loaders.base import Block
from danlu.kb.loaders.encoding import read_text
from danlu.kb.loaders.markdown import sections

HIDDEN = "script,style,noscript,template,svg,nav,header,footer,aside,form,iframe,button"
BLOCKS = "p,div,li,tr,pre,blockquote,section,article,dd,dt,table,ul,ol,br"
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def html_to_text(html: str) -> str:
    """Markdown-like text of the visible content of an HTML page."""
    lexbor = require("selectolax.lexbor", "kb", "reading HTML")
    tree = lexbor.LexborHTMLParser(html)
    for node in tree.css(HIDDEN):
        node.decompose()
    for level, tag in enumerate(HEADINGS, start=1):
        for node in tree.css(tag):
            title = " ".join(node.text(deep=True).split())
            node.replace_with(f"\n\n{'#' * level} {title}\n\n")
    for node in tree.css(BLOCKS):
        node.insert_before("\n\n")
        node.insert_after("\n\n")
    root = tree.body or tree.root
    text = root.text(deep=True, separator="") if root else ""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def load(path: Path, stream: BinaryIO) -> Iterator[Block]:
    yield from sections(html_to_text(read_text(stream, path)).splitlines(keepends=True))

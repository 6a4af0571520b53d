"""Bytes to text, streamed: UTF-8 first, then a detected encoding (GBK/GB18030 included).

A text file is read in pieces, never whole: its encoding is settled first (a byte-order
mark; else one pass that checks the whole file is UTF-8; else charset-normalizer's guess
from its first megabyte), then it is decoded as it is read, line by line, a very long
line in pieces, and lines are gathered into windows of about WINDOW characters for the
chunker. Memory stays bounded whatever the file's size or shape.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from danlu.extras import require
from danlu.kb.loaders.base import unreadable

# charset-normalizer can name a lesser CJK code page for short Chinese text; GB18030 is a
# superset of GB2312 and GBK, so it decodes whatever they do
WIDEN = {"gb2312": "gb18030", "gbk": "gb18030", "hz": "gb18030"}
SAMPLE = 1 << 20  # bytes read at a time, and what the encoding guess looks at
WINDOW = 64_000  # characters handed to the chunker at a time (~16k tokens)


def is_utf8(stream: BinaryIO) -> bool:
    """Whether the rest of `stream` decodes as UTF-8 (read through, not kept)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for block in iter(lambda: stream.read(SAMPLE), b""):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect(stream: BinaryIO) -> str:
    """The encoding of the bytes in `stream`, which is left at its start."""
    stream.seek(0)
    head = stream.read(3)
    if head.startswith(codecs.BOM_UTF8):
        name = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        name = "utf-16"
    else:
        stream.seek(0)
        name = "utf-8" if is_utf8(stream) else guess(stream)
    stream.seek(0)
    return name


def guess(stream: BinaryIO) -> str:
    stream.seek(0)
    best = require("charset_normalizer", "kb").from_bytes(stream.read(SAMPLE)).best()
    name = best.encoding.lower() if best else "gb18030"
    return WIDEN.get(name, name)


@contextmanager
def text_of(stream: BinaryIO, path: Path) -> Iterator[TextIO]:
    """`stream` as text in its own encoding; the stream stays open afterwards (the
    ingester reads its position for progress)."""
    try:
        name = detect(stream)
        codecs.lookup(name)
    except LookupError as exc:
        raise unreadable(path, f"unknown text encoding: {exc}") from None
    text = io.TextIOWrapper(stream, encoding=name, errors="strict", newline=None)
    try:
        yield text
    finally:
        if not stream.closed:  # a reader stopped early may close its file first
            text.detach()


def read_text(stream: BinaryIO, path: Path) -> str:
    """The whole text (formats parsed whole: HTML, JSON; their files are size-limited)."""
    with text_of(stream, path) as text:
        return text.read()


def lines(text: TextIO, limit: int = WINDOW) -> Iterator[str]:
    """Lines with their endings; a line longer than `limit` comes in pieces."""
    return iter(lambda: text.readline(limit), "")


class Window:
    """Lines gathered into texts of about `size` characters, cut after a blank line in
    the later half when there is one (so a window seldom splits a paragraph)."""

    def __init__(self, size: int = WINDOW) -> None:
        self.size = size
        self.lines: list[str] = []
        self.chars = 0

    def add(self, line: str) -> str | None:
        """Take a line; a window's text once enough has gathered, else None."""
        self.lines.append(line)
        self.chars += len(line)
        if self.chars < self.size:
            return None
        half = len(self.lines) // 2
        blank = [i for i in range(len(self.lines) - 1, half - 1, -1) if not self.lines[i].strip()]
        return self._take(blank[0] + 1 if blank else len(self.lines))

    def rest(self) -> str:
        """Whatever has gathered (the end of a section or of the file)."""
        return self._take(len(self.lines))

    def _take(self, n: int) -> str:
        text = "".join(self.lines[:n])
        self.lines = self.lines[n:]
        self.chars -= len(text)
        return text


def windows(pieces: Iterable[str], size: int = WINDOW) -> Iterator[str]:
    """Texts of about `size` characters from lines or line pieces."""
    window = Window(size)
    for piece in pieces:
        if (text := window.add(piece)) is not None:
            yield text
    yield window.rest()

"""Bytes to text: UTF-8 first, then a detected encoding (GBK/GB18030 Chinese included)."""

from __future__ import annotations

from pathlib import Path

from danlu.extras import require
from danlu.kb.loaders.base import unreadable

# charset-normalizer can name a lesser CJK code page for short Chinese text; GB18030 is a
# superset of GB2312 and GBK, so it decodes whatever they do
WIDEN = {"gb2312": "gb18030", "gbk": "gb18030", "hz": "gb18030"}


def decode(data: bytes) -> str:
    """Text of `data` in its own encoding; raises UnicodeDecodeError when none fits."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    guess = require("charset_normalizer", "kb").from_bytes(data).best()
    name = guess.encoding.lower() if guess else "gb18030"
    return data.decode(WIDEN.get(name, name))


def read_text(path: Path) -> str:
    """The file's text, its encoding detected; unreadable when no encoding fits."""
    try:
        return decode(Path(path).read_bytes())
    except (UnicodeDecodeError, LookupError) as exc:
        raise unreadable(path, f"unknown text encoding: {exc}") from None

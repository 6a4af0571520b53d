"""CSV and JSON/JSONL: one paragraph per row or record, as `field: value` pairs.

CSV and JSONL are read a row or line at a time, records gathered into windows; a JSON
document is parsed whole (the ingester's per-file size limit bounds it).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from danlu.kb.loaders.base import Block, unreadable
from danlu.kb.loaders.encoding import read_text, text_of, windows


def record_text(record: Any, prefix: str = "") -> str:
    """A JSON value as `key: value` lines (nested keys joined with dots)."""
    if isinstance(record, dict):
        return "\n".join(record_text(v, f"{prefix}{k}.") for k, v in record.items())
    if isinstance(record, list):
        return "\n".join(record_text(v, prefix) for v in record)
    return f"{prefix[:-1]}: {record}" if prefix else str(record)


def records(rows: Iterable[Any]) -> Iterator[Block]:
    """Records as blocks of paragraphs, a blank line between records."""

    def pieces() -> Iterator[str]:
        for row in rows:
            yield record_text(row) + "\n"
            yield "\n"

    for text in windows(pieces()):
        yield Block(text.strip())


def load_csv(path: Path, stream: BinaryIO) -> Iterator[Block]:
    with text_of(stream, path) as text:
        try:
            rows = csv.DictReader(text)
            yield from records({k: v for k, v in row.items() if k is not None} for row in rows)
        except csv.Error as exc:
            raise unreadable(path, f"bad CSV: {exc}") from None


def load_json(path: Path, stream: BinaryIO) -> Iterator[Block]:
    try:
        data = json.loads(read_text(stream, path))
    except json.JSONDecodeError as exc:
        raise unreadable(path, f"bad JSON: {exc}") from None
    yield from records(data if isinstance(data, list) else [data])


def load_jsonl(path: Path, stream: BinaryIO) -> Iterator[Block]:
    def parsed(text) -> Iterator[Any]:
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise unreadable(path, f"bad JSON line {number}: {exc}") from None

    with text_of(stream, path) as text:
        yield from records(parsed(text))

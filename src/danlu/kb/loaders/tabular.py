"""CSV and JSON/JSONL: one paragraph per row or record, as `field: value` pairs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from danlu.kb.loaders.base import Block, Document, document, unreadable
from danlu.kb.loaders.encoding import read_text


def record_text(record: Any, prefix: str = "") -> str:
    """A JSON value as `key: value` lines (nested keys joined with dots)."""
    if isinstance(record, dict):
        return "\n".join(record_text(v, f"{prefix}{k}.") for k, v in record.items())
    if isinstance(record, list):
        return "\n".join(record_text(v, prefix) for v in record)
    return f"{prefix[:-1]}: {record}" if prefix else str(record)


def records(path: Path, rows: list[Any]) -> Document:
    return document(path, [Block("\n\n".join(record_text(r) for r in rows))])


def load_csv(path: Path) -> Document:
    try:
        rows = list(csv.DictReader(io.StringIO(read_text(path))))
    except csv.Error as exc:
        raise unreadable(path, f"bad CSV: {exc}") from None
    return records(path, [{k: v for k, v in row.items() if k is not None} for row in rows])


def load_json(path: Path) -> Document:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise unreadable(path, f"bad JSON: {exc}") from None
    return records(path, data if isinstance(data, list) else [data])


def load_jsonl(path: Path) -> Document:
    lines = [line for line in read_text(path).splitlines() if line.strip()]
    try:
        return records(path, [json.loads(line) for line in lines])
    except json.JSONDecodeError as exc:
        raise unreadable(path, f"bad JSON line: {exc}") from None

"""Reading data files into rows, each with where it came from ("line 17").

JSONL, JSON (an array of objects), CSV and Parquet files are read here; anything that
is not a local path is taken as a Hugging Face dataset id and read through `datasets`
(online only). A row that is not even an object is kept with its error, so validation
can report it by line like any other bad row.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from danlu.extras import require
from danlu.train.errors import DataError


@dataclass(frozen=True)
class Record:
    """One raw row and its place in the file; `error` is set when it is not an object."""

    where: str
    row: dict[str, Any] | None
    error: str | None = None


def _object(where: str, value: Any) -> Record:
    if isinstance(value, dict):
        return Record(where, value)
    return Record(where, None, f"expected an object, got {type(value).__name__}")


def _jsonl(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield _object(f"line {number}", json.loads(line))
            except json.JSONDecodeError as exc:
                yield Record(f"line {number}", None, f"not valid JSON ({exc.msg})")


def _json(path: Path) -> Iterator[Record]:
    """Each element of a top-level array, located by the line it starts on."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if not text[start:].startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} is not valid JSON: {exc}") from None
        rows = data.get("data") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise DataError(f"{path} must hold an array of rows (or {{'data': [...]}})")
        yield from (_object(f"record {i + 1}", r) for i, r in enumerate(rows))
        return
    index = start + 1
    while True:
        index = _skip(text, index)
        if index >= len(text):  # cut off: rows after the last one read may be lost
            end = f"line {text.count(chr(10), 0, len(text.rstrip())) + 1}"
            yield Record(end, None, "not valid JSON (the array has no closing ']')")
            return
        if text[index] == "]":
            return
        where = f"line {text.count(chr(10), 0, index) + 1}"
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            yield Record(where, None, f"not valid JSON ({exc.msg})")
            return  # the rest of the array cannot be found reliably
        yield _object(where, value)


def _skip(text: str, index: int) -> int:
    """Past whitespace and one separating comma."""
    while index < len(text) and (text[index].isspace() or text[index] == ","):
        index += 1
    return index


def _csv(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            yield Record(f"line {reader.line_num}", {k: v for k, v in row.items() if k})


def _parquet(path: Path) -> Iterator[Record]:
    pq = require("pyarrow.parquet", "train", "reading Parquet")
    for i, row in enumerate(pq.read_table(path).to_pylist()):
        yield Record(f"row {i + 1}", row)


READERS: dict[str, Callable[[Path], Iterator[Record]]] = {
    ".jsonl": _jsonl,
    ".ndjson": _jsonl,
    ".json": _json,
    ".csv": _csv,
    ".parquet": _parquet,
}


def _hub_dataset(ref: str, split: str) -> Iterator[Record]:
    datasets = require("datasets", "train", "Hugging Face datasets")
    try:
        data = datasets.load_dataset(ref, split=split)
    except Exception as exc:  # offline, unknown id, gated: the library's own words
        raise DataError(
            f"cannot load dataset '{ref}': {str(exc).splitlines()[0]}",
            hint="give a local .jsonl/.json/.csv/.parquet file, or check the id and the network",
        ) from None
    for i, row in enumerate(data):
        yield Record(f"row {i + 1}", dict(row))


def read_records(source: str | Path, split: str = "train") -> list[Record]:
    """Every row of a local file or a hub dataset id, in order."""
    path = Path(source).expanduser()
    if path.is_file():
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            known = ", ".join(READERS)
            raise DataError(f"cannot read {path.name}: unknown file type", hint=f"use {known}")
        try:
            return list(reader(path))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"cannot read {path}: {exc}") from None
    looks_like_id = "/" in str(source) and not str(source).startswith((".", "/", "~"))
    if path.suffix or not looks_like_id:
        raise DataError(f"no such data file: {path}")
    return list(_hub_dataset(str(source), split))

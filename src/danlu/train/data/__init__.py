"""Training data: read a file, find its format, turn every row into an example, report.

`load_data(source)` reads every row, picks the format (declared, or detected from the
first row), converts each row and collects "line N: what is wrong" for the bad ones.
`DataSet.require_clean()` is the gate a training run passes before any model loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from danlu.train.data.examples import (
    ChatExample,
    DataFormat,
    Example,
    Kind,
    PreferenceExample,
    RowError,
    TextExample,
)
from danlu.train.data.files import Record, read_records
from danlu.train.data.formats import FORMATS
from danlu.train.errors import DataError

__all__ = [
    "FORMATS",
    "ChatExample",
    "DataSet",
    "Example",
    "PreferenceExample",
    "TextExample",
    "load_data",
]

SHOWN_PROBLEMS = 10  # bad rows listed in an error; the count says how many more


@dataclass
class DataSet:
    """The usable examples of a source, and one line per row that is not usable."""

    source: str
    format: DataFormat
    examples: list[Example] = field(default_factory=list)
    wheres: list[str] = field(default_factory=list)  # the line of each example
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # problems set aside by skip_invalid

    @property
    def rows(self) -> int:
        return len(self.examples) + len(self.problems)

    def require_clean(self, kinds: Sequence[Kind] | None = None) -> None:
        """DataError listing the bad rows (or a format this stage cannot train on)."""
        if kinds and self.format.kind not in kinds:
            raise DataError(
                f"{self.source} is {self.format.name} data ({self.format.kind}), "
                f"this stage trains on {' or '.join(kinds)} data",
                hint="sft takes alpaca, sharegpt, messages, text or traces; dpo takes dpo pairs",
            )
        if not self.examples and not self.problems:
            raise DataError(f"{self.source} has no rows")
        if self.problems:
            shown = self.problems[:SHOWN_PROBLEMS]
            more = len(self.problems) - len(shown)
            tail = f"; and {more} more" if more else ""
            raise DataError(
                f"{self.source}: {len(self.problems)} of {self.rows} rows are bad: "
                + "; ".join(shown)
                + tail,
                hint="fix them, or pass --skip-invalid to train on the good rows only",
                problems=self.problems,
            )


def pick_format(records: list[Record], declared: str | None, source: str) -> DataFormat:
    """The declared format, else the first format whose keys the first good row has."""
    if declared:
        if declared not in FORMATS:
            known = ", ".join(FORMATS)
            raise DataError(f"unknown data format '{declared}'", hint=f"known formats: {known}")
        return FORMATS[declared]
    first = next((r.row for r in records if r.row is not None), None)
    if first is None:
        raise DataError(f"{source} has no rows that are JSON objects")
    for fmt in FORMATS.values():
        if fmt.detect(first):
            return fmt
    keys = ", ".join(sorted(first)) or "none"
    known = "; ".join(f"{f.name} ({f.summary})" for f in FORMATS.values())
    raise DataError(
        f"cannot tell the format of {source} from its keys ({keys})",
        hint=f"rename the fields or pass --format; known formats: {known}",
    )


def load_data(
    source: str | Path, format: str | None = None, *, skip_invalid: bool = False
) -> DataSet:
    """Every row of `source` converted by its format; bad rows become problems.

    With `skip_invalid`, the bad rows are dropped and the problems kept only for reports.
    """
    records = read_records(source)
    fmt = pick_format(records, format, str(source))
    data = DataSet(str(source), fmt)
    for record in records:
        if fmt.keep is not None and record.row is not None and not fmt.keep(record.row):
            continue  # not an example (a trace's other lines)
        try:
            if record.row is None:
                raise RowError(record.error or "not an object")
            example = fmt.convert(record.row)
        except RowError as exc:
            data.problems.append(f"{record.where}: {exc}")
            continue
        data.examples.append(example)
        data.wheres.append(record.where)
    if skip_invalid and data.examples:
        data.skipped, data.problems = data.problems, []
    return data

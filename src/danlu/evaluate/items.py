"""What an evaluation is made of: items, and readers for the layouts they come in.

Readers turn files into items and report a bad row by file and line ("mmlu/dev/x.csv line 4:
expected 6 columns"), before any scoring starts. Official layouts:

* MMLU: `dev/`, `val/`, `test/` folders of `<subject>_<split>.csv`, no header, columns
  question, A, B, C, D, answer letter;
* C-Eval: `dev/`, `val/`, `test/` folders of `<subject>_<split>.csv` with a header
  (id, question, A, B, C, D, answer[, explanation]);
* CMMLU: `dev/`, `test/` folders of `<subject>.csv` with a header (, Question, A, B, C, D, Answer);
* JSONL: one object per line, `{"question", "choices": [...], "answer": index}` for multiple
  choice (optional "subject", "id"), `{"question", "answer": str | [str]}` for Q&A.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from danlu.errors import InvalidRequest

LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class MCItem:
    """A multiple-choice question; `answer` is the index of the right choice."""

    id: str
    question: str
    choices: tuple[str, ...]
    answer: int
    subject: str = "all"


@dataclass(frozen=True)
class QAItem:
    """A question whose answer is generated; any of `answers` counts as right."""

    id: str
    question: str
    answers: tuple[str, ...]
    subject: str = "all"


@dataclass
class Dataset:
    """The items to score and, per subject, the dev items few-shot prompts draw from."""

    items: list = field(default_factory=list)
    dev: dict[str, list] = field(default_factory=dict)


def bad_row(path: Path, line: int, why: str) -> InvalidRequest:
    return InvalidRequest(f"{path} line {line}: {why}", hint="fix or remove that row")


def _csv_rows(path: Path, header: bool) -> Iterator[tuple[int, list[str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            if header:
                next(reader, None)
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield reader.line_num, row
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc}") from None


def _mc_from_row(path: Path, line: int, cells: list[str], subject: str) -> MCItem:
    """cells: question, A, B, C, D, answer letter (any columns before are dropped)."""
    question, *choices, letter = cells
    letter = letter.strip().upper()
    if letter not in LETTERS[: len(choices)]:
        raise bad_row(path, line, f"answer {letter!r} is not one of {LETTERS[: len(choices)]}")
    return MCItem(f"{subject}/{line}", question, tuple(choices), LETTERS.index(letter), subject)


def _read_subject_csvs(folder: Path, suffix: str, header: bool, skip: int) -> dict[str, list]:
    """subject -> items, from `folder/<subject><suffix>.csv`; `skip` leading id columns."""
    found: dict[str, list] = {}
    for path in sorted(folder.glob(f"*{suffix}.csv")):
        subject = path.name.removesuffix(f"{suffix}.csv")
        items = []
        for line, row in _csv_rows(path, header):
            cells = row[skip : skip + 6]
            if len(cells) != 6:
                raise bad_row(path, line, f"expected question, 4 choices and an answer, got {row}")
            items.append(_mc_from_row(path, line, cells, subject))
        found[subject] = items
    return found


CSV_LAYOUTS = {
    # task: (dev folder, test folder, file suffix per split, header, leading id columns)
    "mmlu": ("dev", "test", {"dev": "_dev", "test": "_test"}, False, 0),
    "ceval": ("dev", "val", {"dev": "_dev", "val": "_val"}, True, 1),
    "cmmlu": ("dev", "test", {"dev": "", "test": ""}, True, 1),
}


def read_csv_layout(task: str, root: Path, subjects: list[str] | None) -> Dataset:
    """An official MMLU / C-Eval / CMMLU folder; `subjects` picks some (default: all)."""
    dev_dir, test_dir, suffix, header, skip = CSV_LAYOUTS[task]
    if not (root / test_dir).is_dir():
        raise InvalidRequest(
            f"{root} has no '{test_dir}/' folder",
            hint=f"point --data at the unpacked {task} data (with {dev_dir}/ and {test_dir}/)",
        )
    tests = _read_subject_csvs(root / test_dir, suffix[test_dir], header, skip)
    devs = {}
    if (root / dev_dir).is_dir():
        devs = _read_subject_csvs(root / dev_dir, suffix[dev_dir], header, skip)
    wanted = subjects or sorted(tests)
    unknown = sorted(set(wanted) - set(tests))
    if unknown:
        raise InvalidRequest(
            f"no subject {', '.join(unknown)} in {root / test_dir}",
            hint=f"subjects there: {', '.join(sorted(tests)) or 'none'}",
        )
    items = [item for subject in wanted for item in tests[subject]]
    return Dataset(items, {s: devs.get(s, []) for s in wanted})


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc}") from None
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise bad_row(path, number, f"not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise bad_row(path, number, "expected a JSON object")
        yield number, row


def _field(path: Path, line: int, row: dict, name: str, kind: type | tuple[type, ...]):
    if name not in row:
        raise bad_row(path, line, f"missing '{name}'")
    if not isinstance(row[name], kind):
        raise bad_row(path, line, f"'{name}' has the wrong type ({type(row[name]).__name__})")
    return row[name]


def read_mc_jsonl(path: Path) -> Dataset:
    items = []
    for line, row in _jsonl(path):
        question = _field(path, line, row, "question", str)
        choices = _field(path, line, row, "choices", list)
        answer = _field(path, line, row, "answer", int)
        if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
            raise bad_row(path, line, "'choices' must be a list of at least two strings")
        if not 0 <= answer < len(choices):
            raise bad_row(path, line, f"'answer' {answer} is not an index into 'choices'")
        subject = str(row.get("subject", "all"))
        items.append(MCItem(str(row.get("id", line)), question, tuple(choices), answer, subject))
    return _nonempty(path, Dataset(items))


def read_qa_jsonl(path: Path) -> Dataset:
    items = []
    for line, row in _jsonl(path):
        question = _field(path, line, row, "question", str)
        answer = _field(path, line, row, "answer", (str, list))
        answers = (answer,) if isinstance(answer, str) else tuple(str(a) for a in answer)
        if not answers:
            raise bad_row(path, line, "'answer' is an empty list")
        subject = str(row.get("subject", "all"))
        items.append(QAItem(str(row.get("id", line)), question, answers, subject))
    return _nonempty(path, Dataset(items))


def _nonempty(path: Path, data: Dataset) -> Dataset:
    if not data.items:
        raise InvalidRequest(f"{path} holds no items")
    return data

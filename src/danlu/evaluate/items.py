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
    return by_subjects(tests, devs, subjects, root / test_dir)


def by_subjects(
    tests: dict[str, list], devs: dict[str, list], subjects: list[str] | None, where: Path
) -> Dataset:
    """The items of `subjects` (default: all) with their dev items; an unknown one is an error."""
    wanted = subjects or sorted(tests)
    unknown = sorted(set(wanted) - set(tests))
    if unknown:
        raise InvalidRequest(
            f"no subject {', '.join(unknown)} in {where}",
            hint=f"subjects there: {', '.join(sorted(tests)) or 'none'}",
        )
    items = [item for subject in wanted for item in tests[subject]]
    return Dataset(items, {s: devs.get(s, []) for s in wanted})


def grouped(items: list) -> dict[str, list]:
    """Items by subject, in their order."""
    out: dict[str, list] = {}
    for item in items:
        out.setdefault(item.subject, []).append(item)
    return out


def jsonl_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-empty line; a bad line is one error by line."""
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


def mc_item(path: Path, line: int, row: dict, default_id: str) -> MCItem:
    """A multiple-choice row: question, choices, answer as an index or a letter."""
    question = _field(path, line, row, "question", str)
    choices = _field(path, line, row, "choices", list)
    answer = _field(path, line, row, "answer", (int, str))
    if isinstance(answer, str):  # hub datasets often give the letter
        if len(answer.strip()) != 1 or answer.strip().upper() not in LETTERS:
            raise bad_row(path, line, f"'answer' {answer!r} is neither an index nor a letter")
        answer = LETTERS.index(answer.strip().upper())
    if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise bad_row(path, line, "'choices' must be a list of at least two strings")
    if not 0 <= answer < len(choices):
        raise bad_row(path, line, f"'answer' {answer} is not an index into 'choices'")
    subject = str(row.get("subject") or "all")
    return MCItem(
        str(row.get("id", f"{path.stem}:{line}")), question, tuple(choices), answer, subject
    )


def read_mc_jsonl(path: Path) -> Dataset:
    """A JSONL file of multiple-choice rows, or a folder of records (see read_records)."""
    if path.is_dir():
        return read_records(path, mc_item)
    items = [mc_item(path, line, row, str(line)) for line, row in jsonl_rows(path)]
    return _nonempty(path, Dataset(items))


DATA_SUFFIXES = (".jsonl", ".json", ".parquet")
DEV_SPLITS = ("dev", "validation", "val")


def read_records(folder: Path, make) -> Dataset:
    """A folder of JSONL or Parquet files, as a Hugging Face dataset repo lays them out:
    items from the files with 'test' in their path (every file when none has), few-shot
    examples from 'dev'/'validation' files."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in DATA_SUFFIXES and p.is_file())
    tests = [p for p in files if "test" in p.relative_to(folder).as_posix()] or files
    devs = [p for p in files if p not in tests and _split_of(p, folder) in DEV_SPLITS]

    def rows(paths: list[Path]) -> list:
        return [make(p, n, row, f"{p.stem}:{n}") for p in paths for n, row in _records(p)]

    items, dev = rows(tests), rows(devs)
    return _nonempty(folder, Dataset(items, {"*": dev, **grouped(dev)} if dev else {}))


def _split_of(path: Path, folder: Path) -> str:
    parts = path.relative_to(folder).as_posix().replace("-", "/").replace("_", "/").split("/")
    return next((p for p in parts if p in DEV_SPLITS), "")


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    if path.suffix != ".parquet":
        yield from jsonl_rows(path)
        return
    from danlu.extras import require

    parquet = require("pyarrow.parquet", "eval", "Parquet data")
    try:
        rows = parquet.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises its own types for a damaged file
        raise InvalidRequest(f"cannot read {path}: {exc}".splitlines()[0]) from None
    yield from enumerate(rows, 1)


def qa_item(path: Path, line: int, row: dict, default_id: str) -> QAItem:
    """A Q&A row: question, answer as a string or a list of accepted strings."""
    question = _field(path, line, row, "question", str)
    answer = _field(path, line, row, "answer", (str, list))
    answers = (answer,) if isinstance(answer, str) else tuple(str(a) for a in answer)
    if not answers:
        raise bad_row(path, line, "'answer' is an empty list")
    subject = str(row.get("subject") or "all")
    return QAItem(str(row.get("id", default_id)), question, answers, subject)


def read_qa_jsonl(path: Path) -> Dataset:
    """A JSONL file of Q&A rows, or a folder of records (see read_records)."""
    if path.is_dir():
        return read_records(path, qa_item)
    items = [qa_item(path, line, row, str(line)) for line, row in jsonl_rows(path)]
    return _nonempty(path, Dataset(items))


def _nonempty(path: Path, data: Dataset) -> Dataset:
    if not data.items:
        raise InvalidRequest(f"{path} holds no items")
    return data

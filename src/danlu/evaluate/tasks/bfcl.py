"""BFCL: function calling, scored by the Berkeley Function Calling Leaderboard's own checker.

Categories (`--subjects`, default all four): simple_python (one function, one call),
multiple (several functions, call the right one), parallel (one function called several
times), irrelevance (no function fits: the right answer calls none). Each entry's question
goes to the model with its functions as OpenAI tools, converted as BFCL converts them, and
BFCL judges the calls that come back (`evaluate/bfcl_checker.py`). `tool_choice` is auto,
as BFCL asks; `--tool-choice required` forces a call, which measures the calls of models
too small to decide to call (irrelevance is then always wrong).

A record: `score` (1 when BFCL finds the answer valid), `malformed` (a finished answer
tried a call that could not be read as one), `cut_off` (the answer ran out of tokens
inside a call), the calls, the text, and BFCL's `error_type` when it
is not valid. `--limit` counts per category and picks with `--seed`, so two targets run
with the same flags answer the same items. The data is the installed bfcl-eval's, or
`--data DIR`, a folder laid out like it (`BFCL_v4_<category>.json` and
`possible_answer/`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from danlu.config import Settings
from danlu.errors import InvalidRequest
from danlu.evaluate.bfcl_checker import CATEGORIES, BfclChecker, open_checker
from danlu.evaluate.items import Dataset, jsonl_rows
from danlu.evaluate.scorers import Scorer, ToolAsk, ToolReply
from danlu.evaluate.tasks.base import EvalSettings

MAX_TOKENS = 256  # room for a few parallel calls when --max-tokens is not given
TEXT_KEPT = 400  # characters of an answer's text kept in its record


@dataclass(frozen=True)
class BfclItem:
    """One BFCL entry: its question and functions, and its ground truth (irrelevance has none)."""

    id: str
    subject: str  # the category
    entry: dict[str, Any]
    answer: dict[str, Any] | None


class BfclTask:
    metric_name = "accuracy"
    limit_per_subject = True

    def __init__(self, settings: EvalSettings) -> None:
        unknown = sorted(set(settings.subjects) - set(CATEGORIES))
        if unknown:
            raise InvalidRequest(
                f"no BFCL category named {', '.join(unknown)}",
                hint=f"categories: {', '.join(CATEGORIES)}",
            )
        self.settings = settings
        self.categories = settings.subjects or list(CATEGORIES)
        self.checker = _checker()

    @staticmethod
    def bundled_data() -> Path:
        """The data the installed bfcl-eval ships, used when --data is not given."""
        return _checker().data_dir

    def load(self) -> Dataset:
        items = []
        for category in self.categories:
            items += _read(self.settings.data, self.checker, category)
        return Dataset(items=items)

    def score(self, item: BfclItem, scorer: Scorer, dev: list) -> dict[str, Any]:
        messages = item.entry["question"][0]  # single-turn categories: one list of messages
        tools = self.checker.tools(item.entry["function"])
        ask = ToolAsk(
            tools,
            self.settings.max_tokens or MAX_TOKENS,
            self.settings.tool_choice,
            self.settings.tool_grammar,
        )
        reply = scorer.call_tools(messages, ask)
        verdict = {"valid": False, "error_type": "error"}
        if reply.error is None:
            verdict = self.checker.check(item.subject, item.entry, item.answer, _result(reply))
        record = {
            "score": int(verdict["valid"]),
            "malformed": int(reply.malformed),
            "cut_off": int(reply.cut_off),
            "calls": [{"name": n, "arguments": a} for n, a in reply.calls],
            "text": reply.text[:TEXT_KEPT],
        }
        if not verdict["valid"]:
            record["error_type"] = verdict.get("error_type")
        if reply.error:
            record["error"] = reply.error
        return record


def _checker() -> BfclChecker:
    return open_checker(Settings().cache_dir / "bfcl")


def _result(reply: ToolReply) -> Any:
    """The answer as BFCL records a function-calling endpoint's: `[{name: arguments}]`
    when it called, else its text."""
    if reply.calls:
        return [{name: arguments} for name, arguments in reply.calls]
    return reply.text


def _read(folder: Path, checker: BfclChecker, category: str) -> list[BfclItem]:
    questions = _rows(folder / checker.file_name(category))
    answers: dict[str, Any] = {}
    if category != "irrelevance":
        answers = {
            a["id"]: a for a in _rows(folder / "possible_answer" / checker.file_name(category))
        }
    items = []
    for entry in questions:
        if category != "irrelevance" and entry["id"] not in answers:
            raise InvalidRequest(
                f"{folder}: BFCL entry {entry['id']} has no possible answer",
                hint="give a folder laid out like bfcl-eval's data",
            )
        items.append(BfclItem(entry["id"], category, entry, answers.get(entry["id"])))
    return items


def _rows(path: Path) -> list[dict[str, Any]]:
    """A BFCL data file: one JSON object per line (despite the .json name)."""
    if not path.is_file():
        raise InvalidRequest(
            f"cannot read BFCL data {path}: no such file",
            hint="give a folder laid out like bfcl-eval's data, or leave --data out",
        )
    return [row for _, row in jsonl_rows(path)]

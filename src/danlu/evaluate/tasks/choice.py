"""Multiple choice: the official MMLU / C-Eval / CMMLU folders and ARC/HellaSwag-style JSONL.

By log-likelihood (the default): each option is scored as the continuation of the prompt
and the likeliest one is the answer. Lettered tasks score the letter (" A"); JSONL tasks
score the option's text and also report length-normalised accuracy (acc_norm), as
lm-evaluation-harness does. By generation: the model is asked for a letter in a chat,
for endpoints that only chat.
"""

from __future__ import annotations

import re
from typing import Any

from danlu.evaluate.items import (
    LETTERS,
    Dataset,
    MCItem,
    by_subjects,
    grouped,
    mc_item,
    read_csv_layout,
    read_mc_jsonl,
    read_records,
)
from danlu.evaluate.scorers import Scorer
from danlu.evaluate.tasks.base import EvalSettings

HEADERS = {
    "mmlu": (
        "The following are multiple choice questions (with answers) about {subject}.\n\n",
        "Answer:",
    ),
    "ceval": ("以下是中国关于{subject}考试的单项选择题，请选出其中的正确答案。\n\n", "答案："),
    "cmmlu": ("以下是关于{subject}的单项选择题，请直接给出正确答案的选项。\n\n", "答案："),
}
ASK = "Answer with the letter of the right option only."


def lettered(item: MCItem, cue: str) -> str:
    options = [f"{LETTERS[i]}. {choice}" for i, choice in enumerate(item.choices)]
    return "\n".join([item.question, *options, cue])


def parse_letter(reply: str, n_choices: int) -> int | None:
    """The first standalone option letter in a generated reply."""
    found = re.search(rf"\b([{LETTERS[:n_choices]}])\b", reply.upper())
    return LETTERS.index(found.group(1)) if found else None


class CsvChoiceTask:
    """MMLU, C-Eval or CMMLU from their official CSV folders, options scored by letter."""

    metric_name = "acc"

    def __init__(self, settings: EvalSettings) -> None:
        self.settings = settings
        self.header, self.cue = HEADERS[settings.task]

    def load(self) -> Dataset:
        root = self.settings.data
        if root.is_dir() and not any(root.rglob("*.csv")):  # a hub repo of JSONL/Parquet
            data = read_records(root, mc_item)
            if not self.settings.subjects:
                return data
            return by_subjects(grouped(data.items), data.dev, self.settings.subjects, root)
        return read_csv_layout(self.settings.task, root, self.settings.subjects)

    def prompt(self, item: MCItem, dev: list[MCItem]) -> str:
        subject = item.subject.replace("_", " ")
        shots = [f"{lettered(d, self.cue)} {LETTERS[d.answer]}\n\n" for d in dev]
        return self.header.format(subject=subject) + "".join(shots) + lettered(item, self.cue)

    def score(self, item: MCItem, scorer: Scorer, dev: list) -> dict[str, Any]:
        context = self.prompt(item, dev[: self.settings.shots])
        if self.settings.mode == "generate":
            reply = scorer.chat([{"role": "user", "content": f"{context}\n{ASK}"}], 8)
            picked = parse_letter(reply, len(item.choices))
            return {"pred": picked, "reply": reply, "score": float(picked == item.answer)}
        logprobs = [
            scorer.loglikelihood(context, f" {LETTERS[i]}")[0] for i in range(len(item.choices))
        ]
        picked = max(range(len(logprobs)), key=logprobs.__getitem__)
        return {"pred": picked, "logprobs": logprobs, "score": float(picked == item.answer)}


class JsonlChoiceTask:
    """Multiple choice from JSONL, each option's text scored as the continuation."""

    metric_name = "acc"

    def __init__(self, settings: EvalSettings) -> None:
        self.settings = settings

    def load(self) -> Dataset:
        data = read_mc_jsonl(self.settings.data)
        if data.dev:  # a folder with a dev split
            return data
        shots = self.settings.shots  # the first items are the solved examples
        data.dev = {"*": data.items[:shots]}
        data.items = data.items[shots:]
        return data

    @staticmethod
    def prompt(item: MCItem, dev: list[MCItem]) -> str:
        shots = [f"Question: {d.question}\nAnswer: {d.choices[d.answer]}\n\n" for d in dev]
        return "".join(shots) + f"Question: {item.question}\nAnswer:"

    def score(self, item: MCItem, scorer: Scorer, dev: list) -> dict[str, Any]:
        context = self.prompt(item, dev)
        if self.settings.mode == "generate":
            ask = f"{lettered(item, 'Answer:')}\n{ASK}"
            reply = scorer.chat([{"role": "user", "content": ask}], 8)
            picked = parse_letter(reply, len(item.choices))
            return {"pred": picked, "reply": reply, "score": float(picked == item.answer)}
        logprobs = [scorer.loglikelihood(context, f" {choice}")[0] for choice in item.choices]
        normed = [
            lp / max(1, len(choice)) for lp, choice in zip(logprobs, item.choices, strict=True)
        ]
        picked = max(range(len(logprobs)), key=logprobs.__getitem__)
        picked_norm = max(range(len(normed)), key=normed.__getitem__)
        return {
            "pred": picked,
            "logprobs": logprobs,
            "score": float(picked == item.answer),
            "acc_norm": float(picked_norm == item.answer),
        }

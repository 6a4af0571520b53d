"""Generative Q&A: a greedy chat answer scored against the accepted answers by a metric,
or, when a judge is given, by the judge's verdict (the metric's score is kept beside it)."""

from __future__ import annotations

from typing import Any

from danlu.errors import InvalidRequest
from danlu.evaluate.items import Dataset, QAItem, read_qa_jsonl
from danlu.evaluate.judge import Judge
from danlu.evaluate.metrics import METRICS, best
from danlu.evaluate.scorers import Scorer
from danlu.evaluate.tasks.base import EvalSettings

MAX_TOKENS = 64  # the longest answer when --max-tokens is not given


class QATask:
    metric_name = "score"

    def __init__(self, settings: EvalSettings) -> None:
        if settings.metric not in METRICS:
            raise InvalidRequest(
                f"no metric named '{settings.metric}'", hint=f"metrics: {', '.join(METRICS)}"
            )
        self.settings = settings
        self.metric_name = settings.metric
        self.judge: Judge | None = None

    def use_judge(self, judge: Judge) -> None:
        """Score by `judge`'s verdicts from now on."""
        self.judge = judge
        self.metric_name = "judge"

    def load(self) -> Dataset:
        data = read_qa_jsonl(self.settings.data)
        shots = self.settings.shots
        data.dev = {"*": data.items[:shots]}
        data.items = data.items[shots:]
        return data

    def score(self, item: QAItem, scorer: Scorer, dev: list) -> dict[str, Any]:
        messages = []
        for shot in dev:
            messages += [
                {"role": "user", "content": shot.question},
                {"role": "assistant", "content": shot.answers[0]},
            ]
        messages.append({"role": "user", "content": item.question})
        reply = scorer.chat(messages, self.settings.max_tokens or MAX_TOKENS)
        metric = best(self.settings.metric, reply, item.answers)
        if self.judge is None:
            return {"reply": reply, "score": metric}
        graded = self.judge.grade(item.question, item.answers, reply)
        return {"reply": reply, "score": graded["judge"], self.settings.metric: metric, **graded}

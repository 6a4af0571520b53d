"""Generative Q&A: a greedy chat answer scored against the accepted answers by a metric."""

from __future__ import annotations

from typing import Any

from danlu.errors import InvalidRequest
from danlu.evaluate.items import Dataset, QAItem, read_qa_jsonl
from danlu.evaluate.metrics import METRICS, best
from danlu.evaluate.scorers import Scorer
from danlu.evaluate.tasks.base import EvalSettings


class QATask:
    metric_name = "score"

    def __init__(self, settings: EvalSettings) -> None:
        if settings.metric not in METRICS:
            raise InvalidRequest(
                f"no metric named '{settings.metric}'", hint=f"metrics: {', '.join(METRICS)}"
            )
        self.settings = settings
        self.metric_name = settings.metric

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
        reply = scorer.chat(messages, self.settings.max_tokens)
        return {"reply": reply, "score": best(self.settings.metric, reply, item.answers)}

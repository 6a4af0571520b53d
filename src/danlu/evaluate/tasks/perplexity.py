"""Perplexity of a text file, in rolling windows over its tokens.

The text is cut into windows of `window` tokens that advance by `stride`; each window is
scored given the tokens before it in the window, and only the tokens no earlier window
scored count, so every token is scored once with up to `window - stride` tokens of context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from danlu.errors import InvalidRequest
from danlu.evaluate.items import Dataset
from danlu.evaluate.scorers import Scorer
from danlu.evaluate.tasks.base import EvalSettings


@dataclass(frozen=True)
class Window:
    id: str
    begin: int  # first token of the window's context
    first: int  # first token this window scores
    end: int
    subject: str = "all"


class PerplexityTask:
    metric_name = "nll"

    def __init__(self, settings: EvalSettings) -> None:
        self.settings = settings
        self.tokens: list[int] = []

    def load(self) -> Dataset:
        try:
            self.text = self.settings.data.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"cannot read {self.settings.data}: {exc}") from None
        if not self.text.strip():
            raise InvalidRequest(f"{self.settings.data} is empty")
        return Dataset([])  # windows need the tokenizer: see windows()

    def windows(self, scorer: Scorer) -> list[Window]:
        self.tokens = scorer.tokenize(self.text)
        size = self.settings.window
        stride = self.settings.stride or size // 2
        out, scored = [], 1  # the first token has no context and is never scored
        for begin in range(0, len(self.tokens) - 1, stride):
            end = min(begin + size, len(self.tokens))
            if end > scored:
                out.append(Window(f"{begin}", begin, scored, end))
                scored = end
            if end == len(self.tokens):
                break
        return out

    def score(self, item: Window, scorer: Scorer, dev: list) -> dict[str, Any]:
        logprobs = scorer.token_logprobs(self.tokens[item.begin : item.end])
        counted = logprobs[item.first - item.begin - 1 :]
        return {"tokens": len(counted), "nll": -sum(counted), "score": -sum(counted)}


def perplexity(samples: list[dict[str, Any]]) -> dict[str, float]:
    tokens = sum(s["tokens"] for s in samples)
    nll = sum(s["nll"] for s in samples)
    return {"tokens": tokens, "nll_per_token": nll / tokens, "perplexity": math.exp(nll / tokens)}

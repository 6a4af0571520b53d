"""The sampling inspector (`danlu run --show-probs K`, `/probs`): each generated token's
likeliest candidates after the sampler chain, with the one picked marked.

The numbers are the engine's `post_sampling_probs` logprobs, the same ones the server's
`top_logprobs` gives for a request with `post_sampling_probs: true` (docs/sampling.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from danlu.engine.base import Chunk, TokenLogprob
from danlu.engine.sampling import SamplingParams

PICKED = "*"  # marks the candidate the draw picked


def inspected(params: SamplingParams, top: int | None) -> SamplingParams:
    """`params` asking for the top `top` post-chain candidates, or for none (None)."""
    if top is None:
        return params.model_copy(update={"logprobs": None, "post_sampling_probs": False})
    return SamplingParams.build(params, logprobs=top, post_sampling_probs=True)


def shown(text: str) -> str:
    """A piece quoted so spaces and newlines can be seen: " Paris", "\\n"."""
    return json.dumps(text, ensure_ascii=False)


def percent(logprob: float) -> str:
    p = math.exp(logprob)
    return "<0.1%" if 0 < p < 0.001 else f"{p:.1%}"


class ProbsPrinter:
    """Writes one line per generated token: its index, the piece, then the candidates."""

    def __init__(self, piece: Callable[[int], bytes], write: Callable[[str], Any]) -> None:
        self._piece = piece
        self._write = write
        self.count = 0
        self.records: list[dict[str, Any]] = []  # the `--json` form, token by token

    def text(self, token: int) -> str:
        return self._piece(token).decode("utf-8", "replace")

    def feed(self, chunk: Chunk) -> None:
        for item in chunk.logprobs:
            self.count += 1
            self.records.append(self.record(item))
            self._write(self.line(self.count, item) + "\n")

    def line(self, index: int, item: TokenLogprob) -> str:
        cells = [self._cell(t, lp, t == item.token) for t, lp in item.top]
        if all(t != item.token for t, _ in item.top):  # drawn from below the top K
            cells.append(self._cell(item.token, item.logprob, True))
        return f"{index:>4} {shown(self.text(item.token)):<14} " + "  ".join(cells)

    def _cell(self, token: int, logprob: float, picked: bool) -> str:
        mark = PICKED if picked else " "
        return f"{mark}{shown(self.text(token))} {percent(logprob)}"

    def record(self, item: TokenLogprob) -> dict[str, Any]:
        def one(token: int, logprob: float) -> dict[str, Any]:
            return {"id": token, "token": self.text(token), "p": math.exp(logprob)}

        return {**one(item.token, item.logprob), "top": [one(t, lp) for t, lp in item.top]}

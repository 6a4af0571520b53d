"""Picking the next token from logits, as the llama.cpp sampler chain does.

Order (the same as the llama.cpp backend's chain): logit bias → repeat penalty →
presence/frequency penalties → top-k → top-p → min-p → temperature → seeded draw;
temperature 0 is greedy (argmax after bias and penalties).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch

from danlu.engine.base import TokenLogprob
from danlu.engine.sampling import SamplingParams


class Sampler:
    """One generation's sampler: its params, its RNG and the tokens seen so far."""

    def __init__(self, params: SamplingParams, history: Sequence[int]) -> None:
        self.params = params
        self.history = list(history)
        self.last: torch.Tensor | None = None  # the last non-greedy pick's probabilities
        self.generator = torch.Generator()
        seed = params.seed if params.seed is not None else torch.seed()
        self.generator.manual_seed(seed)

    def pick(self, logits: torch.Tensor) -> int:
        """The next token from one row of logits, shape (vocab,)."""
        logits = self._penalised(logits.float().clone())
        if self.params.greedy:
            token = int(torch.argmax(logits))
            self.last = None
        else:
            probs = torch.softmax(self._truncated(logits) / self.params.temperature, dim=-1)
            token = int(torch.multinomial(probs, 1, generator=self.generator))
            self.last = probs  # the chain's distribution, for post_sampling_probs
        self.history.append(token)
        return token

    def post_chain(self, token: int, top: int) -> TokenLogprob:
        """The last pick's logprob after the chain, and the `top` likeliest survivors;
        greedy picking's distribution is the argmax alone."""
        if self.last is None:
            return TokenLogprob(token, 0.0, ((token, 0.0),) if top else ())
        kept = int((self.last > 0).sum())
        values, ids = torch.topk(self.last, min(top, kept))
        ranked = tuple((int(i), float(torch.log(v))) for i, v in zip(ids, values, strict=True))
        return TokenLogprob(token, float(torch.log(self.last[token])), ranked)

    def _penalised(self, logits: torch.Tensor) -> torch.Tensor:
        p = self.params
        for token, bias in (p.logit_bias or {}).items():
            logits[token] += bias
        window = self.history if p.repeat_last_n == -1 else self.history[-p.repeat_last_n :]
        if p.repeat_last_n == 0:
            window = []
        counts = Counter(window)
        if counts and (p.repeat_penalty != 1.0 or p.presence_penalty or p.frequency_penalty):
            ids = torch.tensor(list(counts))
            seen = logits[ids]
            seen = torch.where(seen > 0, seen / p.repeat_penalty, seen * p.repeat_penalty)
            freq = torch.tensor([counts[t] for t in counts], dtype=seen.dtype)
            logits[ids] = seen - p.presence_penalty - p.frequency_penalty * freq
        return logits

    def _truncated(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits outside top-k, the top-p nucleus or the min-p floor set to -inf."""
        p = self.params
        if 0 < p.top_k < logits.shape[-1]:
            floor = torch.topk(logits, p.top_k).values[-1]
            logits = logits.masked_fill(logits < floor, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        if p.top_p < 1.0:
            ordered, order = torch.sort(probs, descending=True)
            before = torch.cumsum(ordered, dim=-1) - ordered  # mass above each token
            drop = torch.zeros_like(probs, dtype=torch.bool)
            drop[order] = before >= p.top_p
            logits = logits.masked_fill(drop, float("-inf"))
        if p.min_p > 0:
            logits = logits.masked_fill(probs < p.min_p * probs.max(), float("-inf"))
        return logits


def token_logprob(logits: torch.Tensor, token: int, top: int) -> TokenLogprob:
    """A token's log-probability under raw logits, with the `top` likeliest alternatives."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    values, ids = torch.topk(logprobs, max(top, 1))
    ranked = tuple((int(i), float(v)) for i, v in zip(ids, values, strict=True))
    return TokenLogprob(token, float(logprobs[token]), ranked)

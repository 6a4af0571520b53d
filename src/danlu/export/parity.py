"""Does an exported model still answer as the trained one did? Numbers, not a promise.

1. A fixed set of conversations is rendered through the run's `ChatTemplate.render` and
   tokenized once, by the reference (the merged model in transformers, or the source
   GGUF for `danlu quantize`); every candidate runs those same prompt tokens.
2. The reference answers each greedily (`GREEDY_TOKENS` tokens at most); that answer is
   the continuation every candidate is scored on.
3. Per candidate: greedy agreement (its own greedy answer is the reference's, token for
   token), top-1 agreement (the share of continuation positions where its likeliest token
   is the reference's) and the mean log-likelihood per token of the continuation.
4. Each position where the likeliest token differs is a flip; a flip is a near-tie when
   the reference itself had the candidate's pick within `NEAR_TIE` nats of its own. A
   135M model has many near-ties, and any rounding (even q8_0) turns some of them, so
   the flips that are not near-ties are the ones that show real damage.
5. Drops are taken against the first candidate (the f16 export, or the source GGUF).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from danlu.chat.messages import Message
from danlu.chat.template import ChatTemplate
from danlu.engine.base import Completion, Engine
from danlu.engine.sampling import SamplingParams

GREEDY_TOKENS = 24
NEAR_TIE = 0.25  # nats between the reference's top token and a candidate's differing pick
ALTERNATIVES = 5  # the reference's ranked tokens kept per position, to judge near-ties
PROMPTS: tuple[tuple[Message, ...], ...] = (
    (Message(role="user", content="What is the capital of France?"),),
    (Message(role="user", content="Write one sentence about the sea."),),
    (Message(role="user", content="List three colours."),),
    (
        Message(role="system", content="You answer in one short sentence."),
        Message(role="user", content="Why do people sleep?"),
    ),
)


@dataclass(frozen=True)
class Thresholds:
    """What an f16 export must reach to count as the trained model."""

    min_top1: float = 0.95  # share of positions whose likeliest token agrees
    min_greedy: float = 0.75  # share of prompts whose greedy answers are identical


@dataclass(frozen=True)
class Reference:
    """The prompts as token ids and the reference's greedy continuation of each."""

    prompts: list[list[int]]
    continuations: list[list[int]]
    ranked: list[list[tuple[tuple[int, float], ...]]]  # its best tokens per position

    @property
    def top1(self) -> list[list[int]]:
        """The reference's likeliest token at each continuation position."""
        return [[alts[0][0] for alts in positions] for positions in self.ranked]


@dataclass
class ParityRow:
    """One candidate measured against the reference."""

    variant: str
    size: int
    greedy: int  # prompts whose greedy answer is identical to the reference's
    prompts: int
    top1: float  # share of continuation positions whose likeliest token agrees
    ll: float  # mean log-likelihood per continuation token
    top1_drop: float | None = None  # against the first row
    ll_drop: float | None = None
    flips: int = 0  # continuation positions whose likeliest token differs
    near_ties: int = 0  # of those, the reference had within NEAR_TIE nats (see step 4)
    passed: bool | None = None  # only judged for the f16 export

    @property
    def greedy_share(self) -> float:
        return self.greedy / self.prompts if self.prompts else 0.0


@dataclass
class ParityReport:
    reference: str
    greedy_tokens: int
    rows: list[ParityRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "greedy_tokens": self.greedy_tokens,
            "prompts": len(PROMPTS),
            "rows": [asdict(row) for row in self.rows],
        }

    def add(self, row: ParityRow) -> ParityRow:
        """Append `row`, with its drops against the first row."""
        if self.rows:
            first = self.rows[0]
            row.top1_drop = first.top1 - row.top1
            row.ll_drop = first.ll - row.ll
        self.rows.append(row)
        return row


def prompt_tokens(engine: Engine, template: ChatTemplate) -> list[list[int]]:
    """The fixed conversations rendered through the template and tokenized."""
    return [engine.tokenize(template.render(list(m)), add_bos=True) for m in PROMPTS]


def greedy(engine: Engine, prompt: Sequence[int], n: int = GREEDY_TOKENS) -> list[int]:
    params = SamplingParams(temperature=0.0, max_tokens=n, seed=0)
    return list(Completion.collect(engine.stream(prompt, params)).token_ids)


def reference(engine: Engine, template: ChatTemplate) -> Reference:
    """Measure the reference once; candidates are compared with what it returns."""
    prompts = prompt_tokens(engine, template)
    continuations = [greedy(engine, p) for p in prompts]
    ranked = [_ranked(engine, p, c) for p, c in zip(prompts, continuations, strict=True)]
    return Reference(prompts, continuations, ranked)


def _ranked(
    engine: Engine, prompt: list[int], continuation: list[int]
) -> list[tuple[tuple[int, float], ...]]:
    if not continuation:
        return []
    return list(engine.loglikelihood(prompt, continuation, top=ALTERNATIVES).alternatives)


def near_tie(ranked: tuple[tuple[int, float], ...], pick: int) -> bool:
    """Whether the reference had `pick` within NEAR_TIE nats of its own likeliest token."""
    logprobs = dict(ranked)
    return pick in logprobs and ranked[0][1] - logprobs[pick] < NEAR_TIE


def measure(variant: str, size: int, engine: Engine, ref: Reference) -> ParityRow:
    """One candidate against the reference (see the module docstring, step 3)."""
    same_greedy = positions = flips = near_ties = 0
    logprob = 0.0
    pairs = zip(ref.prompts, ref.continuations, ref.ranked, strict=True)
    for prompt, continuation, ref_ranked in pairs:
        same_greedy += greedy(engine, prompt) == continuation
        if not continuation:
            continue
        scored = engine.loglikelihood(prompt, continuation, top=1)
        for ranked, (pick, _) in zip(ref_ranked, scored.top, strict=True):
            if pick != ranked[0][0]:
                flips += 1
                near_ties += near_tie(ranked, pick)
        positions += len(continuation)
        logprob += scored.logprob
    return ParityRow(
        variant=variant,
        size=size,
        greedy=same_greedy,
        prompts=len(ref.prompts),
        top1=(positions - flips) / positions if positions else 0.0,
        ll=logprob / positions if positions else 0.0,
        flips=flips,
        near_ties=near_ties,
    )


def judge(row: ParityRow, thresholds: Thresholds) -> bool:
    """Mark (and return) whether `row` reaches the thresholds."""
    row.passed = row.top1 >= thresholds.min_top1 and row.greedy_share >= thresholds.min_greedy
    return row.passed

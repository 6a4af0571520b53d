"""Does an exported model still answer as the trained one did? Numbers, not a promise.

1. A fixed set of conversations is rendered through the run's `ChatTemplate.render` and
   tokenized once, by the reference (the merged model in transformers, or the source
   GGUF for `danlu quantize`); every candidate runs those same prompt tokens.
2. The reference answers each greedily (`GREEDY_TOKENS` tokens at most); that answer is
   the continuation every candidate is scored on.
3. Per candidate: greedy agreement (its own greedy answer is the reference's, token for
   token), top-1 agreement (the share of continuation positions where its likeliest token
   is the reference's) and the mean log-likelihood per token of the continuation.
4. Drops are taken against the first candidate (the f16 export, or the source GGUF).
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
    top1: list[list[int]]  # the reference's likeliest token at each continuation position


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
    top1 = [_top1(engine, p, c) for p, c in zip(prompts, continuations, strict=True)]
    return Reference(prompts, continuations, top1)


def _top1(engine: Engine, prompt: list[int], continuation: list[int]) -> list[int]:
    if not continuation:
        return []
    return [tok for tok, _ in engine.loglikelihood(prompt, continuation, top=1).top]


def measure(variant: str, size: int, engine: Engine, ref: Reference) -> ParityRow:
    """One candidate against the reference (see the module docstring, step 3)."""
    same_greedy = agree = positions = 0
    logprob = 0.0
    pairs = zip(ref.prompts, ref.continuations, ref.top1, strict=True)
    for prompt, continuation, ref_top in pairs:
        same_greedy += greedy(engine, prompt) == continuation
        if not continuation:
            continue
        scored = engine.loglikelihood(prompt, continuation, top=1)
        agree += sum(a == tok for a, (tok, _) in zip(ref_top, scored.top, strict=True))
        positions += len(continuation)
        logprob += scored.logprob
    return ParityRow(
        variant=variant,
        size=size,
        greedy=same_greedy,
        prompts=len(ref.prompts),
        top1=agree / positions if positions else 0.0,
        ll=logprob / positions if positions else 0.0,
    )


def judge(row: ParityRow, thresholds: Thresholds) -> bool:
    """Mark (and return) whether `row` reaches the thresholds."""
    row.passed = row.top1 >= thresholds.min_top1 and row.greedy_share >= thresholds.min_greedy
    return row.passed

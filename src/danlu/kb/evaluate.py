"""`kb eval`: how well a knowledge base retrieves, and how well a model answers from it.

A question set is JSONL, one question a line:
    {"question": "...", "gold": "leave.md", "contains": "three days"}
    {"question": "...", "unanswerable": true}
`gold` names the source that answers it (a path suffix or a glob); `contains`, when given,
is text the right chunk holds. A retrieved chunk is relevant when it is from the gold
source (and holds `contains`).

Retrieval: hit rate@k (a relevant chunk in the top k), MRR (1/rank of the first), nDCG@k
(binary gains; the ideal is the same chunks ordered relevant-first).
Answers (with a model): citation validity (every [n] names a source, and one cited chunk
holds `contains` or is from the gold source) and abstention (unanswerable questions that
got "I don't know", and answerable ones that wrongly did).
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from danlu.engine.sampling import validated
from danlu.errors import InvalidRequest
from danlu.kb.answer import Answer
from danlu.kb.retrieve import Hit, SearchOptions

if TYPE_CHECKING:
    from danlu.kb.base import KnowledgeBase
    from danlu.model import Model

DONT_KNOW = ("don't know", "do not know", "not sure", "cannot answer", "不知道", "无法回答")


class Question(BaseModel):
    """One line of a question set."""

    model_config = ConfigDict(extra="forbid")

    question: str
    gold: str | None = None
    contains: str | None = None
    unanswerable: bool = False


def read_questions(path: Path) -> list[Question]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return [Question.model_validate_json(line) for line in lines if line.strip()]
    except (OSError, ValidationError) as exc:
        raise InvalidRequest(f"cannot read the question set {path}: {exc}") from None


def relevant(hit: Hit, q: Question) -> bool:
    path = hit.chunk.path
    from_gold = q.gold is not None and (
        path.endswith(q.gold) or fnmatch.fnmatch(path, q.gold) or Path(path).name == q.gold
    )
    return from_gold and (q.contains is None or q.contains.lower() in hit.chunk.text.lower())


def dcg(gains: list[int]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


@dataclass(frozen=True)
class Scores:
    """Retrieval scores of one question."""

    hit: bool
    reciprocal_rank: float
    ndcg: float


def score(hits: list[Hit], q: Question) -> Scores:
    gains = [int(relevant(h, q)) for h in hits]
    first = next((i for i, g in enumerate(gains, start=1) if g), None)
    ideal = dcg(sorted(gains, reverse=True))
    return Scores(
        first is not None, 1 / first if first else 0.0, dcg(gains) / ideal if ideal else 0.0
    )


def abstained(answer: Answer) -> bool:
    return answer.abstained or any(p in answer.text.lower() for p in DONT_KNOW)


def citations_valid(answer: Answer, q: Question) -> bool:
    """Every citation names a source, and at least one cited source holds the answer."""
    if not answer.citations or not all(c.valid for c in answer.citations):
        return False
    return any(relevant(c.hit, q) for c in answer.citations if c.hit is not None)


@dataclass
class Report:
    """Averages over a question set (None where no question measured it)."""

    k: int
    questions: int = 0
    hit_rate: float | None = None
    mrr: float | None = None
    ndcg: float | None = None
    citation_validity: float | None = None
    abstention: float | None = None
    false_abstention: float | None = None
    misses: list[str] = field(default_factory=list)


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def evaluate(
    kb: KnowledgeBase,
    questions: list[Question],
    k: int = 5,
    model: Model | None = None,
    max_tokens: int = 160,
) -> Report:
    """Score retrieval for every answerable question, and answers (greedy, at most
    `max_tokens` each) when `model` is given."""
    options = validated(SearchOptions, k=k)  # a bad k is one error, before any question
    report = Report(k=k, questions=len(questions))
    retrieval: list[Scores] = []
    cited, abstain_ok, abstain_wrong = [], [], []
    for q in questions:
        if not q.unanswerable:
            retrieval.append(score(kb.search(q.question, options), q))
            if not retrieval[-1].hit:
                report.misses.append(q.question)
        if model is None:
            continue
        answer = kb.ask(q.question, model, temperature=0.0, max_tokens=max_tokens)
        if q.unanswerable:
            abstain_ok.append(float(abstained(answer)))
        else:
            abstain_wrong.append(float(abstained(answer)))
            cited.append(float(citations_valid(answer, q)))
    report.hit_rate = mean([float(s.hit) for s in retrieval])
    report.mrr = mean([s.reciprocal_rank for s in retrieval])
    report.ndcg = mean([s.ndcg for s in retrieval])
    report.citation_validity = mean(cited)
    report.abstention = mean(abstain_ok)
    report.false_abstention = mean(abstain_wrong)
    return report


def report_json(report: Report) -> str:
    return json.dumps(report.__dict__, ensure_ascii=False, indent=2)

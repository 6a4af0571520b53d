"""LLM-as-judge for generative Q&A: another model decides whether an answer is right.

The judge is any Scorer (a model in the store, or any OpenAI-compatible server through
`ServerScorer`), asked greedily, with one prompt per answer, for one word: CORRECT or
INCORRECT. A reply with neither word is recorded as "unclear" and scores 0, so a judge
that does not follow the format cannot raise a score; the count of unclear verdicts is
in the result so that a weak judge shows.
"""

from __future__ import annotations

import re
from typing import Any

from danlu.evaluate.scorers import Scorer

PROMPT = """You are grading an answer to a question. Decide whether the candidate answer \
gives the same answer as one of the reference answers. Ignore wording, case and extra \
explanation; judge only whether the answer is right.

Question: {question}
Reference answers: {references}
Candidate answer: {candidate}

Reply with exactly one word: CORRECT or INCORRECT."""

VERDICT = re.compile(r"\b(INCORRECT|CORRECT)\b", re.IGNORECASE)
SCORES = {"correct": 1.0, "incorrect": 0.0, "unclear": 0.0}


def judge_prompt(question: str, references: tuple[str, ...], candidate: str) -> str:
    refs = " | ".join(references)
    return PROMPT.format(question=question, references=refs, candidate=candidate.strip())


def parse_verdict(reply: str) -> str:
    """'correct', 'incorrect', or 'unclear' when the reply has neither word."""
    found = VERDICT.search(reply)
    return found.group(1).lower() if found else "unclear"


class Judge:
    """Grades answers with `scorer`'s greedy chat replies."""

    def __init__(self, scorer: Scorer, max_tokens: int = 8) -> None:
        self.scorer = scorer
        self.max_tokens = max_tokens

    def grade(self, question: str, references: tuple[str, ...], candidate: str) -> dict[str, Any]:
        prompt = judge_prompt(question, references, candidate)
        reply = self.scorer.chat([{"role": "user", "content": prompt}], self.max_tokens)
        verdict = parse_verdict(reply)
        return {"judge_reply": reply, "judge_verdict": verdict, "judge": SCORES[verdict]}

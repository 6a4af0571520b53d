"""`kb eval`: retrieval metrics computed by hand on known rankings; answer metrics live."""

from __future__ import annotations

import math

import pytest

from danlu.kb.evaluate import Question, evaluate, score
from danlu.kb.retrieve import Hit
from danlu.kb.stores import StoredChunk


def hit(path: str, text: str) -> Hit:
    return Hit(StoredChunk(0, path, 0, text, None, (), 0, len(text)), 1.0, 0.5)


def test_scores_of_a_known_ranking():
    q = Question(question="?", gold="a.md", contains="yes")
    hits = [hit("/x/b.md", "yes"), hit("/x/a.md", "no"), hit("/x/a.md", "yes it is")]
    s = score(hits, q)
    assert s.hit and s.reciprocal_rank == pytest.approx(1 / 3)
    assert s.ndcg == pytest.approx((1 / math.log2(4)) / 1.0)
    assert not score(hits[:2], q).hit


@pytest.mark.parametrize("built_kb", ["sqlite"], indirect=True)
def test_answer_metrics_with_the_real_model(built_kb, model):
    questions = [
        Question(question="How do I reset my password?", gold="faq.html"),
        Question(question="What is the boiling point of liquid nitrogen?", unanswerable=True),
    ]
    report = evaluate(built_kb, questions, k=5, model=model, max_tokens=48)
    assert report.questions == 2 and report.hit_rate == 1.0 and report.mrr == 1.0
    assert report.abstention == 1.0  # nothing passes the floor: "I don't know"
    assert report.citation_validity is not None and report.false_abstention is not None

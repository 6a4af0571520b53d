"""`kb eval`: retrieval metrics computed by hand on known rankings; answer metrics live."""

from __future__ import annotations

import math

import pytest

from danlu.kb.answer import Answer, Citation
from danlu.kb.evaluate import Question, abstained, citations_valid, evaluate, score
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


def test_answer_metrics_by_hand():
    q = Question(question="?", gold="a.md", contains="yes")
    gold, other = hit("/x/a.md", "yes it is"), hit("/x/b.md", "no")

    def answer(text: str, *cited: Hit | None, refused: bool = False) -> Answer:
        citations = tuple(Citation(n, h) for n, h in enumerate(cited, start=1))
        return Answer(text, (gold, other), citations, refused)

    assert citations_valid(answer("It is [1].", gold), q)
    assert citations_valid(answer("It is [1][2].", other, gold), q)  # one holds the answer
    assert not citations_valid(answer("It is [2].", other), q)  # cites no source with it
    assert not citations_valid(answer("It is [1][3].", gold, None), q)  # [3]: no such source
    assert not citations_valid(answer("It is."), q)  # nothing cited
    assert abstained(answer("", refused=True))
    assert abstained(answer("I don't know the answer."))
    assert abstained(answer("我不知道。"))
    assert not abstained(answer("It is [1].", gold))


@pytest.mark.parametrize("built_kb", ["sqlite"], indirect=True)
def test_answer_metrics_with_the_real_model(built_kb, model):
    questions = [
        Question(question="How do I reset my password?", gold="faq.html"),
        Question(question="What is the boiling point of liquid nitrogen?", unanswerable=True),
    ]
    report = evaluate(built_kb, questions, k=5, model=model, max_tokens=48)
    assert report.questions == 2 and report.hit_rate == 1.0 and report.mrr == 1.0
    assert report.abstention == 1.0  # nothing passes the floor: "I don't know"
    # one answerable question each: a share of 0 or 1, its definition tested above
    assert report.citation_validity in (0.0, 1.0) and report.false_abstention in (0.0, 1.0)

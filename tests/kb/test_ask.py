"""`ask` with the real SmolLM2: grounded, cited, fitted to the context, or abstaining."""

from __future__ import annotations

from pathlib import Path

import pytest

from danlu.kb import SearchOptions
from danlu.kb.answer import ABSTAIN, attribute, cite, fit_sources, messages_for
from tests.near_ties import assert_same_up_to_a_near_tie

sqlite_only = pytest.mark.parametrize("built_kb", ["sqlite"], indirect=True)


@sqlite_only
def test_an_answer_streams_and_cites_sources_that_exist(built_kb, model):
    question = "How many days of annual leave does a full-time employee get?"
    events = list(built_kb.stream_ask(question, model, temperature=0.0, max_tokens=48))
    assert events[0].sources  # the sources come first, for --show-sources
    answer = events[-1].answer
    assert answer is not None and not answer.abstained
    assert "".join(e.text for e in events[:-1]) == answer.text
    # the source that holds the answer was retrieved and given to the model
    assert any(
        Path(h.chunk.path).name == "handbook.md" and "25 days" in h.chunk.text
        for h in answer.sources
    )
    # what streamed is the model's own greedy answer to the grounded prompt (its wording
    # depends on the machine's kernels, so the test does not pin it)
    messages = messages_for(question, list(answer.sources))
    direct = model.chat(messages, temperature=0.0, max_tokens=48, trim=False)
    prompt = model.tokenize(model.render(messages))
    assert_same_up_to_a_near_tie(model, prompt, direct.text, answer.text)
    assert all(c.valid for c in answer.citations), answer.text


@sqlite_only
def test_markers_in_an_answer_map_to_their_sources(built_kb):
    hits = tuple(built_kb.search("annual leave", SearchOptions(k=2)))
    citations = cite("Take leave [2], as the handbook says [1][2] and [7].", hits)
    assert [(c.number, c.valid, c.attributed) for c in citations] == [
        (2, True, False),
        (1, True, False),
        (7, False, False),
    ]
    assert citations[0].hit == hits[1]


@sqlite_only
def test_an_answer_without_markers_is_attributed_to_the_source_it_repeats(built_kb):
    hits = tuple(built_kb.search("visitor badge", SearchOptions(k=3)))
    badge = next(n for n, h in enumerate(hits, 1) if "red visitor badge" in h.chunk.text)
    text = "Visitors must wear a red visitor badge. Bananas are yellow."
    citations = attribute(text, hits, built_kb.segmenter.query_terms)
    assert [(c.number, c.attributed) for c in citations] == [(badge, True)]


@sqlite_only
def test_nothing_relevant_means_an_abstention_without_the_model(built_kb, model):
    answer = built_kb.ask("What is the boiling point of liquid nitrogen?", model)
    assert answer.abstained and answer.text == ABSTAIN
    assert answer.sources == () and answer.citations == ()


@sqlite_only
def test_sources_that_do_not_fit_the_context_are_left_out_with_a_notice(built_kb, model):
    hits = built_kb.search("leave", SearchOptions(k=30, min_similarity=-1))
    many = hits * 20  # far more text than a 2048-token context holds
    kept, notices = fit_sources(model, "leave?", many, max_tokens=256)
    assert 0 < len(kept) < len(many)
    assert notices == (
        f"{len(many) - len(kept)} of {len(many)} sources did not fit the model's "
        f"{model.n_ctx}-token context and were left out",
    )


def test_an_empty_kb_abstains(fresh_kb, model):
    answer = fresh_kb.ask("How many days of annual leave do I get?", model)
    assert answer.abstained and answer.sources == ()

"""Keyword terms: Chinese segmented by jieba, other text split into lowercase words."""

from __future__ import annotations

from danlu.kb.terms import Segmenter


def test_chinese_is_segmented_and_english_split_into_words():
    terms = Segmenter().terms("出差报销需要提交发票。Open the HR portal, choose “Time off”!")
    assert {"出差", "报销", "发票", "提交"} <= set(terms)
    assert terms[-7:] == ["open", "the", "hr", "portal", "choose", "time", "off"]
    assert not any(t in {"。", ",", "“", "!"} for t in terms)


def test_query_terms_drop_function_words_but_never_everything():
    segmenter = Segmenter()
    assert segmenter.query_terms("How do I reset my password?") == ["reset", "password"]
    assert segmenter.query_terms("what is it") == ["what", "is", "it"]

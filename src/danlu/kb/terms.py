"""Keyword terms: text cut into words that a full-text index can match, Chinese included.

FTS engines split on whitespace and punctuation, which leaves a Chinese sentence as one
"word" that no query matches. jieba segments it (search mode also emits the shorter words
inside long ones, so 年假申请 matches 年假); English words pass through lowercased.
"""

from __future__ import annotations

import logging
import re

from danlu.extras import require

WORD = re.compile(r"\w", re.UNICODE)
WORDS = re.compile(r"\w+", re.UNICODE)
# CJK ideographs (the unified blocks and extension A, compatibility ideographs), captured
# so that split() keeps them
CJK_RUNS = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
# function words that match nearly every chunk and only add noise to an OR query
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "should",
        "the",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "的",
        "了",
        "吗",
        "呢",
        "是",
        "在",
        "和",
        "我",
        "你",
        "怎么",
        "什么",
        "如何",
        "吧",
        "啊",
    ]
)


class Segmenter:
    """Cuts text into lowercase terms; owns its jieba dictionary (loaded on first use)."""

    def __init__(self) -> None:
        self._jieba = None

    def _tokenizer(self):
        if self._jieba is None:
            jieba = require("jieba", "kb", "keyword search")
            logging.getLogger("jieba").setLevel(logging.WARNING)  # it logs its dict loading
            self._jieba = jieba.Tokenizer()
        return self._jieba

    def terms(self, text: str) -> list[str]:
        """Every word of `text`, in order (what is indexed). Only runs of CJK characters
        go through jieba; other text splits at non-word characters, many times faster."""
        out: list[str] = []
        for piece in CJK_RUNS.split(text.lower()):
            if CJK_RUNS.fullmatch(piece):
                out += (w for w in self._tokenizer().cut_for_search(piece) if WORD.search(w))
            else:
                out += WORDS.findall(piece)
        return out

    def query_terms(self, text: str) -> list[str]:
        """The distinct content words of a query (what is searched for)."""
        seen = dict.fromkeys(t for t in self.terms(text) if t not in STOPWORDS)
        return list(seen) or list(dict.fromkeys(self.terms(text)))

"""Generative answer metrics, by name: exact, contains, regex, f1, rouge (ROUGE-L F1).

Text is normalised (case, punctuation, spaces) before comparing. Word-level metrics split
Chinese with jieba when it is installed (the `kb` extra), else one word per character, so
"北京是首都" and "首都是北京" overlap as they should.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable

PUNCTUATION = set(string.punctuation) | set("，。！？；：、“”‘’（）《》【】—…·")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if ch in PUNCTUATION else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Normalised words; CJK runs are segmented (jieba) so Chinese compares word by word."""
    out: list[str] = []
    for part in normalise(text).split():
        out.extend(_segment(part) if CJK.search(part) else [part])
    return out


def _segment(text: str) -> list[str]:
    try:
        import jieba
    except ImportError:
        return list(text)
    jieba.setLogLevel(60)  # its start-up notes are not ours to print
    return [w for w in jieba.lcut(text) if w.strip()]


def exact(prediction: str, answer: str) -> float:
    return float(normalise(prediction) == normalise(answer))


def contains(prediction: str, answer: str) -> float:
    return float(normalise(answer) in normalise(prediction))


def regex(prediction: str, answer: str) -> float:
    """`answer` is a regular expression searched in the raw prediction."""
    return float(re.search(answer, prediction) is not None)


def f1(prediction: str, answer: str) -> float:
    pred, gold = words(prediction), words(answer)
    common = sum((Counter(pred) & Counter(gold)).values())
    if not pred or not gold or not common:
        return float(pred == gold)
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def rouge(prediction: str, answer: str) -> float:
    """ROUGE-L F1: the longest common subsequence of words."""
    pred, gold = words(prediction), words(answer)
    if not pred or not gold:
        return float(pred == gold)
    lcs = _lcs(pred, gold)
    if not lcs:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(gold)
    return 2 * precision * recall / (precision + recall)


def _lcs(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], prev + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


METRICS: dict[str, Callable[[str, str], float]] = {
    "exact": exact,
    "contains": contains,
    "regex": regex,
    "f1": f1,
    "rouge": rouge,
}


def best(metric: str, prediction: str, answers: tuple[str, ...]) -> float:
    """The metric against the closest of the accepted answers."""
    score = METRICS[metric]
    return max(score(prediction, answer) for answer in answers)

"""Grounded answers: numbered sources in the prompt, a streamed answer, citations checked.

1. Nothing passed the relevance floor: abstain, without running the model.
2. Sources are added best first while the prompt still leaves room for the answer in the
   model's context (counted with the model's own tokenizer); a source that does not fit is
   left out whole and a notice says how many were, never cut off silently.
3. The answer streams through `Model.stream_chat`, the one path every interface uses.
4. `[n]` markers in the answer become citations of file, page and heading; a number with
   no source behind it is reported as invalid.
5. An answer with no markers at all (small models often write none) is attributed: each
   sentence cites the source that holds most of its words, if one holds at least half;
   such citations are marked `attributed`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from danlu.chat.context import answer_reserve
from danlu.errors import ContextOverflow
from danlu.kb.retrieve import Hit, SearchOptions

if TYPE_CHECKING:
    from danlu.model import Model

# worded and laid out for small models: SmolLM2-135M answers from the sources this way
INSTRUCTIONS = (
    "You answer questions from numbered sources and cite the source number in square "
    "brackets, like [1]. If the sources do not answer the question, say you do not know."
)
ASK = "Write a one-sentence answer from the sources, then cite the source number in brackets."
ABSTAIN = "I don't know: nothing in the knowledge base matches this question closely enough."
CITATION = re.compile(r"\[(\d+)\]")
SENTENCE = re.compile(r"[^.!?。！？；\n]+[.!?。！？；]*")
ATTRIBUTE_SHARE = 0.5  # an answer sentence cites a source holding this share of its words

Terms = Callable[[str], list[str]]


class AskOptions(BaseModel):
    """How a question is answered from a knowledge base: the one set of defaults that
    `danlu kb ask`, the page's chat and `/v1/kb/NAME/chat/completions` start from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(
        3, ge=1, le=200, description="Sources retrieved: small models answer better from fewer."
    )
    min_similarity: float = Field(
        0.2,
        ge=-1.0,
        le=1.0,
        description="Relevance floor (cosine similarity): a chunk under it is not evidence, "
        "and with none over it the answer is 'I don't know', without loading the model.",
    )
    max_tokens: int = Field(
        512, ge=1, description="Longest answer in tokens: grounded answers are short."
    )

    def search(self) -> SearchOptions:
        """The search that finds the sources."""
        return SearchOptions(k=self.k, min_similarity=self.min_similarity)


@dataclass(frozen=True)
class Citation:
    """A `[n]` in the answer; `hit` is the source it names (None: no such source)."""

    number: int
    hit: Hit | None
    attributed: bool = False

    @property
    def valid(self) -> bool:
        return self.hit is not None

    def to_dict(self) -> dict[str, Any]:
        """As the CLI's --json and the server's `citations` give it."""
        chunk = self.hit.chunk if self.hit else None
        return {
            "n": self.number,
            "valid": self.valid,
            "attributed": self.attributed,
            "path": chunk.path if chunk else None,
            "page": chunk.page if chunk else None,
        }


@dataclass(frozen=True)
class Answer:
    """The full answer, the sources it was given, and what it cited."""

    text: str
    sources: tuple[Hit, ...]
    citations: tuple[Citation, ...]
    abstained: bool
    notices: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """As `danlu kb ask --json` prints it."""
        return {
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "sources": [h.to_dict() for h in self.sources],
            "notices": list(self.notices),
        }


@dataclass(frozen=True)
class AnswerEvent:
    """One streamed step: `sources` first, then `text` pieces, then the finished `answer`."""

    text: str = ""
    sources: tuple[Hit, ...] | None = None
    answer: Answer | None = None


@dataclass(frozen=True)
class Grounded:
    """The prompt an answer is asked with: the sources that fit, and what was left out."""

    sources: tuple[Hit, ...]
    messages: list[dict[str, str]]
    notices: tuple[str, ...]


def source_line(n: int, hit: Hit) -> str:
    return f"[{n}] {' '.join(hit.chunk.text.split())}"


def messages_for(question: str, hits: list[Hit]) -> list[dict[str, str]]:
    sources = "\n".join(source_line(n, h) for n, h in enumerate(hits, start=1))
    user = f"Sources:\n{sources}\n\nQuestion: {question}\n{ASK}"
    return [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": user}]


def fit_sources(
    model: Model, question: str, hits: list[Hit], max_tokens: int | None
) -> tuple[list[Hit], tuple[str, ...]]:
    """The best hits whose prompt leaves room for the answer, and a notice if any left out."""
    budget = model.n_ctx - answer_reserve(model.n_ctx, max_tokens)
    kept: list[Hit] = []
    for hit in hits:
        prompt = model.render(messages_for(question, [*kept, hit]))
        if len(model.tokenize(prompt)) > budget:
            break
        kept.append(hit)
    if len(kept) == len(hits):
        return kept, ()
    return kept, (
        f"{len(hits) - len(kept)} of {len(hits)} sources did not fit the model's "
        f"{model.n_ctx}-token context and were left out",
    )


def cite(text: str, hits: tuple[Hit, ...]) -> tuple[Citation, ...]:
    """Each distinct `[n]` in `text`, in order, mapped to its source."""
    numbers = dict.fromkeys(int(m.group(1)) for m in CITATION.finditer(text))
    return tuple(Citation(n, hits[n - 1] if 1 <= n <= len(hits) else None) for n in numbers)


def attribute(text: str, hits: tuple[Hit, ...], terms: Terms) -> tuple[Citation, ...]:
    """Citations for an answer without markers: per sentence, the source sharing the most
    of its words (at least ATTRIBUTE_SHARE of them)."""
    source_terms = [set(terms(h.chunk.text)) for h in hits]
    numbers: dict[int, None] = {}
    for sentence in SENTENCE.findall(text):
        words = set(terms(sentence))
        if len(words) < 2:
            continue
        shares = [len(words & s) / len(words) for s in source_terms]
        best = max(range(len(hits)), key=shares.__getitem__)
        if shares[best] >= ATTRIBUTE_SHARE:
            numbers[best + 1] = None
    return tuple(Citation(n, hits[n - 1], attributed=True) for n in numbers)


def ground(model: Model, question: str, hits: list[Hit], max_tokens: int) -> Grounded:
    """The grounded prompt for `question`: the best hits that fit beside the answer."""
    kept, notices = fit_sources(model, question, hits, max_tokens)
    if not kept:
        raise ContextOverflow(
            f"the question and its best source do not fit the model's {model.n_ctx}-token context",
            hint="ask a shorter question, or load the model with a larger context",
        )
    return Grounded(tuple(kept), messages_for(question, kept), notices)


def citations_of(text: str, sources: tuple[Hit, ...], terms: Terms) -> tuple[Citation, ...]:
    """The answer's `[n]` markers, or, with none, the sources its sentences come from."""
    return cite(text, sources) or attribute(text, sources, terms)


def abstention() -> Iterator[AnswerEvent]:
    """Nothing passed the relevance floor: "I don't know", without a model."""
    yield AnswerEvent(sources=())
    yield AnswerEvent(text=ABSTAIN)
    yield AnswerEvent(answer=Answer(ABSTAIN, (), (), abstained=True))


def stream_answer(
    model: Model | None,
    question: str,
    hits: list[Hit],
    terms: Terms,
    max_tokens: int | None = None,
    **params: Any,
) -> Iterator[AnswerEvent]:
    """Answer `question` from `hits`, streaming; the last event carries the Answer.
    Without hits the answer is an abstention and `model` is not used (it may be None).
    `max_tokens`: None takes AskOptions' default."""
    if not hits:
        yield from abstention()
        return
    if model is None:
        raise ValueError("answering from sources needs a model")
    max_tokens = max_tokens or AskOptions().max_tokens
    grounded = ground(model, question, hits, max_tokens)
    yield AnswerEvent(sources=grounded.sources)
    parts: list[str] = []
    notices = grounded.notices
    stream = model.stream_chat(grounded.messages, trim=False, max_tokens=max_tokens, **params)
    for chunk in stream:
        notices += chunk.notices
        if chunk.text:
            parts.append(chunk.text)
            yield AnswerEvent(text=chunk.text)
    text = "".join(parts)
    citations = citations_of(text, grounded.sources, terms)
    yield AnswerEvent(answer=Answer(text, grounded.sources, citations, False, notices))


def collect(events: Iterator[AnswerEvent]) -> Answer:
    """The Answer at the end of a stream."""
    answer = None
    for event in events:
        answer = event.answer or answer
    assert answer is not None, "stream_answer always ends with an answer"
    return answer

"""Retrieval: dense, keyword (BM25) and hybrid search, with an optional MMR pass.

1. Dense: the query's vector against every chunk's (cosine similarity).
2. Keyword: the query's jieba terms, any of them, ranked by BM25 (ts_rank_cd on PostgreSQL).
3. Hybrid (the default) fuses both rankings by reciprocal rank: score = sum 1/(60 + rank).
4. Candidates get their cosine similarity to the query; those under `min_similarity`
   are dropped, which is how `ask` knows when nothing relevant was found.
5. A cross-encoder, when named, re-scores the remaining candidates (danlu/kb/rerank.py).
6. MMR, when asked, re-picks the top k trading relevance against redundancy.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from danlu.kb.embedders import Embedder
from danlu.kb.rerank import CrossEncoderReranker
from danlu.kb.stores import Store, StoredChunk
from danlu.kb.terms import Segmenter

Mode = Literal["hybrid", "dense", "keyword"]


class Reranker(Protocol):
    def scores(self, query: str, passages: list[str]) -> list[float]: ...


RRF_K = 60  # the constant of Cormack et al.; damps the weight of the very first ranks


class SearchOptions(BaseModel):
    """How a search runs; every field has the default `kb search` and `kb ask` use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(5, ge=1, le=200, description="How many chunks to return.")
    mode: Mode = Field("hybrid", description="hybrid (fused), dense or keyword.")
    path_glob: str | None = Field(None, description="Only chunks of files matching this glob.")
    min_similarity: float = Field(
        -1.0, ge=-1.0, le=1.0, description="Drop chunks less similar to the query than this."
    )
    mmr: float | None = Field(
        None, ge=0.0, le=1.0, description="MMR lambda (1: pure relevance, 0: pure diversity)."
    )
    candidates: int = Field(50, ge=1, description="Chunks each ranking contributes to fusion.")
    rerank: str | None = Field(
        None, description="A cross-encoder (folder or hub ID) that re-scores the candidates."
    )


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk and why: its fused score, similarity, and rank in each list."""

    chunk: StoredChunk
    score: float
    similarity: float | None  # None: a keyword search that did not need the query's vector
    dense_rank: int | None = None
    keyword_rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """As `kb search --json` and `/v1/kb/NAME/search` give it."""
        c = self.chunk
        return {
            "path": c.path, "page": c.page, "headings": list(c.headings), "start": c.start,
            "end": c.end, "score": self.score, "similarity": self.similarity,
            "dense_rank": self.dense_rank, "keyword_rank": self.keyword_rank, "text": c.text,
        }  # fmt: skip


class Retriever:
    """Searches one store with the embedder and segmenter it was built with."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        segmenter: Segmenter,
        reranker: Callable[[str], Reranker] | None = None,
        query_vectors: QueryCache | None = None,
    ) -> None:
        self.store, self.embedder, self.segmenter = store, embedder, segmenter
        self.reranker = reranker or CrossEncoderReranker
        self.cache = query_vectors if query_vectors is not None else QueryCache()

    def query_vector(self, query: str) -> np.ndarray:
        """The query's vector, from the cache when the same query was embedded lately."""
        vector = self.cache.get(query)
        if vector is None:
            vector = self.cache.put(query, self.embedder.embed([query])[0])  # (d,)
        return vector

    def search(self, query: str, options: SearchOptions | None = None) -> list[Hit]:
        options = options or SearchOptions()
        qvec = self.query_vector(query) if wants_vector(options) else None  # (d,)
        pool = max(options.candidates, options.k)
        dense, keyword = [], []
        if qvec is not None and options.mode != "keyword":
            dense = self.store.dense(qvec, pool, options.path_glob)
        if options.mode != "dense":
            terms = self.segmenter.query_terms(query)
            keyword = self.store.keyword(terms, pool, options.path_glob)
        ranked = fuse(dense, keyword)
        if options.min_similarity <= -1.0 and options.mmr is None and options.rerank is None:
            ranked = ranked[: options.k]  # nothing to filter or re-pick: look up k only
        similarity = self._similarity([cid for cid, _ in ranked], qvec)
        ranked = [(c, s) for c, s in ranked if similarity.get(c, 1.0) >= options.min_similarity]
        if options.rerank is not None:
            ranked = self._rerank(query, ranked[: options.candidates], options.rerank)
        if options.mmr is not None and qvec is not None:
            ranked = self._mmr(ranked, qvec, options.k, options.mmr)
        return self._hits(ranked[: options.k], similarity, dense, keyword)

    def _rerank(self, query: str, ranked, spec: str) -> list[tuple[int, float]]:
        """The candidates re-scored by a cross-encoder, best first."""
        rows = self.store.chunks([cid for cid, _ in ranked])
        ids = [cid for cid, _ in ranked if cid in rows]
        scores = self.reranker(spec).scores(query, [rows[cid].text for cid in ids])
        return sorted(zip(ids, scores, strict=True), key=lambda item: -item[1])

    def _similarity(self, ids: list[int], qvec: np.ndarray | None) -> dict[int, float]:
        """Cosine similarity of each chunk to the query (none without a query vector)."""
        if qvec is None or not ids:
            return {}
        return dict(zip(ids, (self.store.vectors(ids) @ qvec).tolist(), strict=True))  # (n,)

    def _hits(self, ranked, similarity, dense, keyword) -> list[Hit]:
        rows = self.store.chunks([cid for cid, _ in ranked])
        d_rank = {cid: r for r, (cid, _) in enumerate(dense, start=1)}
        k_rank = {cid: r for r, (cid, _) in enumerate(keyword, start=1)}
        return [
            Hit(rows[cid], score, similarity.get(cid), d_rank.get(cid), k_rank.get(cid))
            for cid, score in ranked
            if cid in rows
        ]

    def _mmr(self, ranked, qvec: np.ndarray, k: int, lam: float) -> list[tuple[int, float]]:
        """Greedy maximal marginal relevance over the candidates' stored vectors."""
        if not ranked:
            return []
        vectors = self.store.vectors([cid for cid, _ in ranked])  # (n, d)
        relevance = vectors @ qvec  # (n,)
        chosen: list[int] = []
        while len(chosen) < min(k, len(ranked)):
            redundancy = (vectors @ vectors[chosen].T).max(axis=1) if chosen else 0.0  # (n,)
            gain = lam * relevance - (1 - lam) * redundancy
            gain[chosen] = -np.inf
            chosen.append(int(np.argmax(gain)))
        return [ranked[i] for i in chosen]


class QueryCache:
    """The last `size` query vectors (ask, eval and a server repeat queries)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, query: str) -> np.ndarray | None:
        if query in self.vectors:
            self.vectors.move_to_end(query)
        return self.vectors.get(query)

    def put(self, query: str, vector: np.ndarray) -> np.ndarray:
        self.vectors[query] = vector
        if len(self.vectors) > self.size:
            self.vectors.popitem(last=False)
        return vector


def wants_vector(options: SearchOptions) -> bool:
    """Keyword search needs the query's vector only for a floor or MMR."""
    return options.mode != "keyword" or options.min_similarity > -1.0 or options.mmr is not None


def fuse(*rankings: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of rankings of (id, score), best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (cid, _) in enumerate(ranking, start=1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: -item[1])

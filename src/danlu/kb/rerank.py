"""Cross-encoder reranking: a model reads the query and each candidate chunk together.

Slower than the vector and keyword rankings (one forward pass per pair), so it re-orders
only their fused candidates. Any sentence-transformers CrossEncoder folder or hub ID
works (for example cross-encoder/ms-marco-MiniLM-L-6-v2, or BAAI/bge-reranker-base for
Chinese); none ships with danlu, so reranking is off unless one is named.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from danlu.errors import OfflineError
from danlu.extras import require


class CrossEncoderReranker:
    """Scores (query, passage) pairs with a sentence-transformers CrossEncoder."""

    def __init__(self, source: str) -> None:
        st = require("sentence_transformers", "kb", "reranking")
        local = Path(source).expanduser()
        self.source = str(local.resolve()) if local.exists() else source
        try:
            self.model = st.CrossEncoder(self.source)
        except OSError as exc:
            raise OfflineError(
                f"cannot load the reranker '{source}': {exc}",
                hint="give a local cross-encoder folder, or go online once",
            ) from None

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage (higher is more relevant)."""
        if not passages:
            return []
        pairs = [(query, p) for p in passages]
        return [float(s) for s in self.model.predict(pairs, show_progress_bar=False)]

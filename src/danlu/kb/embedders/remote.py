"""Embedders that are not sentence-transformers: a GGUF model run by danlu's own engine,
and any OpenAI-compatible `/v1/embeddings` endpoint."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from danlu.errors import InvalidRequest, OfflineError
from danlu.extras import require
from danlu.kb.embedders.base import normalised

CONTEXT = 512


class GGUFEmbedder:
    """`gguf:NAME`: a model from danlu's store, embedding through `Model.embed`."""

    def __init__(self, name: str) -> None:
        import danlu  # the model layer sits beside kb; loaded only when this embedder is used

        # chunks are short, and an embedding pass costs more with a larger context
        self.model = danlu.load(name, n_ctx=CONTEXT)
        self.name = f"gguf:{name}"
        self.max_tokens = self.model.n_ctx
        self.dimension = len(self.model.embed(["probe"])[0])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return normalised(np.array(self.model.embed(list(texts)), dtype=np.float32))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self.model.tokenize(t, special=False)) for t in texts]


class OpenAIEmbedder:
    """`openai:BASE_URL#MODEL`: POST BASE_URL/embeddings (BASE_URL ends in /v1).

    Its tokenizer is not known here, so token counts are estimated (4 characters or one
    CJK character a token), on the safe side for chunk sizes.
    """

    def __init__(self, spec: str, batch_size: int = 64) -> None:
        base, _, model = spec.partition("#")
        if not base.startswith(("http://", "https://")) or not model:
            raise InvalidRequest(
                f"bad embedder 'openai:{spec}'",
                hint="write it as openai:http://host:port/v1#model-name",
            )
        self.httpx = require("httpx", "kb", "remote embeddings")
        self.url, self.model, self.batch_size = base.rstrip("/") + "/embeddings", model, batch_size
        self.name, self.max_tokens = f"openai:{spec}", 512
        self.dimension = int(self._post(["probe"]).shape[1])

    def _post(self, texts: list[str]) -> np.ndarray:
        try:
            reply = self.httpx.post(
                self.url, json={"model": self.model, "input": texts}, timeout=120
            )
            reply.raise_for_status()
        except self.httpx.HTTPError as exc:
            raise OfflineError(f"embedding endpoint {self.url} failed: {exc}") from None
        data = sorted(reply.json()["data"], key=lambda d: d["index"])
        return normalised(np.array([d["embedding"] for d in data], dtype=np.float32))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        batches = [
            list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)
        ]
        return (
            np.vstack([self._post(b) for b in batches])
            if batches
            else np.zeros((0, self.dimension))
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [
            sum(1 for c in t if ord(c) > 0x2E80) + len(t.encode("ascii", "ignore")) // 4 + 1
            for t in texts
        ]

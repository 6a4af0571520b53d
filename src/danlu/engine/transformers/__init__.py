"""The transformers backend: HF model folders and `danlu train` runs (peft adapters)."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Lazy, so that `danlu.engine.transformers.tokens` is usable without torch loaded.
    if name == "TransformersEngine":
        from danlu.engine.transformers.engine import TransformersEngine

        return TransformersEngine
    raise AttributeError(name)

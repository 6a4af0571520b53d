"""Embedding vectors as both APIs return them: shortened to `dimensions` on request."""

from __future__ import annotations

import math

from danlu.errors import InvalidParameter


def shorten(vector: list[float], dimensions: int | None) -> list[float]:
    """Keep the first `dimensions` components and renormalise, as OpenAI and Ollama do."""
    if dimensions is None or dimensions == len(vector):
        return vector
    if dimensions > len(vector):
        raise InvalidParameter(
            f"dimensions {dimensions} is more than the model's {len(vector)}",
            hint=f"ask for at most {len(vector)}",
        )
    head = vector[:dimensions]
    norm = math.sqrt(sum(v * v for v in head)) or 1.0
    return [v / norm for v in head]

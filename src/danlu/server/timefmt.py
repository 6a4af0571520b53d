"""Ollama-style durations ("5m", "1h30m", "300", -1) as seconds."""

from __future__ import annotations

import re

from danlu.errors import InvalidRequest

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def keep_alive_seconds(value: float | int | str | None) -> float | None:
    """None keeps the server default; negative means forever; 0 unloads after the request."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    parts = PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise InvalidRequest(f"invalid keep_alive '{value}'", hint="use e.g. 300, '5m' or -1")
    return sign * sum(float(n) * UNITS[u] for n, u in parts)

"""Ollama-style durations ("5m", "1h30m", "300", -1) as seconds."""

from __future__ import annotations

import math
import re

from danlu.errors import InvalidRequest

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
# the longest duration Ollama (Go's time.Duration, int64 nanoseconds) can say: ~292 years
MAX_SECONDS = (2**63 - 1) / 1e9
HINT = "use e.g. 300, '5m' or -1 (forever)"


def keep_alive_seconds(value: float | int | str | None) -> float | None:
    """None keeps the server default; negative means forever; 0 unloads after the request.

    NaN, infinities and durations beyond ~292 years are refused: a deadline no clock can
    hold would break every later /api/ps."""
    if value is None:
        return None
    seconds = _seconds(value)
    if not math.isfinite(seconds) or abs(seconds) > MAX_SECONDS:
        raise InvalidRequest(f"invalid keep_alive {repr(value)[:40]}: out of range", hint=HINT)
    return seconds


def _seconds(value: float | int | str) -> float:
    try:
        return float(value)  # a number, or a number in a string
    except OverflowError:  # an integer too large for a float
        return math.inf
    except ValueError:
        pass
    text = value.strip()  # a duration such as "1h30m" (float() refused it, so a string)
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    parts = PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise InvalidRequest(f"invalid keep_alive {value[:40]!r}", hint=HINT)
    return sign * sum(float(n) * UNITS[u] for n, u in parts)

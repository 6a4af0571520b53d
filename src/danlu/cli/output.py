"""How an answer is reported: the `--json` object (the speed line is `Timing.speed_line`).

Shared by the one-shot `danlu run` and the interactive chat, so neither imports the other.
"""

from __future__ import annotations

from typing import Any

from danlu.engine.base import Completion


def completion_json(model: str, result: Completion) -> dict[str, Any]:
    """The machine-readable form of an answer (`danlu run --json`)."""
    t = result.timing
    return {
        "model": model,
        "response": result.text,
        "finish_reason": result.finish_reason,
        "usage": {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "cached_tokens": result.usage.cached_tokens,
            "total_tokens": result.usage.total_tokens,
        },
        "timing": {
            "prompt_seconds": round(t.prompt_seconds, 4),
            "generation_seconds": round(t.generation_seconds, 4),
            "prompt_tokens_per_second": round(t.prompt_tps, 2),
            "generation_tokens_per_second": round(t.generation_tps, 2),
        },
        "notices": list(result.notices),
    }

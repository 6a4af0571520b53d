"""Small builders for OpenAI response pieces: ids, SSE frames, usage, logprobs."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

from danlu.engine.base import TokenLogprob, Usage
from danlu.errors import DanluError
from danlu.model import Model


def completion_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def sse_done() -> bytes:
    return b"data: [DONE]\n\n"


def sse_tail(head: dict[str, Any], usage: Usage | None, include_usage: bool) -> Iterator[bytes]:
    """The end of a stream: the usage chunk (no choices) when the client asked for it
    with stream_options.include_usage, then [DONE]. `head`: id, object, created, model."""
    if include_usage:
        yield sse({**head, "choices": [], "usage": usage_json(usage)})
    yield sse_done()


def sse_error(exc: Exception) -> bytes:
    if isinstance(exc, DanluError):
        err = {"message": exc.one_line(), "type": "server_error", "code": exc.code}
    else:
        err = {"message": "internal server error", "type": "server_error", "code": "internal"}
    return sse({"error": err})


def usage_json(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def _token(model: Model, token: int, logprob: float) -> dict[str, Any]:
    raw = model.engine.piece(token)
    return {"token": raw.decode("utf-8", "replace"), "logprob": logprob, "bytes": list(raw)}


def logprobs_content(model: Model, items: Iterable[TokenLogprob]) -> list[dict[str, Any]]:
    """OpenAI chat `logprobs.content` entries."""
    out = []
    for item in items:
        entry = _token(model, item.token, item.logprob)
        entry["top_logprobs"] = [_token(model, t, lp) for t, lp in item.top]
        out.append(entry)
    return out

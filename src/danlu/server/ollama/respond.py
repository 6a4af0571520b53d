"""What /api/chat and /api/generate share: timings, frames, NDJSON streaming, JSON mode.

An endpoint turns engine chunks into Ollama frames (dicts, the last with done=true).
Streaming sends them one per line; the non-streaming answer is the same frames merged,
so the two cannot disagree.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from danlu.chat.tools.grammar import json_grammar
from danlu.engine.base import Chunk, TokenLogprob
from danlu.errors import DanluError, InvalidRequest
from danlu.model import Model
from danlu.server.ollama.names import hold, release, store_name
from danlu.server.pool import ModelPool
from danlu.server.runner import hold_and_plan
from danlu.server.state import state
from danlu.server.timefmt import keep_alive_seconds

NDJSON = "application/x-ndjson"
log = logging.getLogger("danlu.server")
Frame = dict[str, Any]


def timestamp() -> str:
    """Ollama's created_at: RFC 3339 in UTC with a trailing Z."""
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def nanoseconds(seconds: float) -> int:
    return max(0, round(seconds * 1e9))


@dataclass
class Clock:
    """When the request arrived and when its model was ready (perf_counter seconds)."""

    started: float = field(default_factory=time.perf_counter)
    loaded: float | None = None

    def mark_loaded(self) -> None:
        self.loaded = time.perf_counter()

    def durations(self) -> Frame:
        loaded = self.started if self.loaded is None else self.loaded
        return {
            "total_duration": nanoseconds(time.perf_counter() - self.started),
            "load_duration": nanoseconds(loaded - self.started),
        }


def done_fields(chunk: Chunk, clock: Clock) -> Frame:
    """The counts and durations of a final frame, from the engine's own Usage and Timing.

    As in Ollama, prompt_eval_count is every prompt token, those reused from the KV
    cache included, while prompt_eval_duration only covers the tokens actually
    processed; eval_count is the number of generated tokens.
    """
    assert chunk.usage is not None and chunk.timing is not None
    return {
        "done": True,
        "done_reason": chunk.finish_reason,
        **clock.durations(),
        "prompt_eval_count": chunk.usage.prompt_tokens,
        "prompt_eval_duration": nanoseconds(chunk.timing.prompt_seconds),
        "eval_count": chunk.usage.completion_tokens,
        "eval_duration": nanoseconds(chunk.timing.generation_seconds),
    }


def grammar_for(fmt: str | dict[str, Any] | None) -> str | None:
    """`format`: "json" for any JSON value, a JSON schema for a matching one, else free text."""
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return json_grammar(None)
    if isinstance(fmt, dict):
        return json_grammar(fmt or None)
    raise InvalidRequest(f"invalid format '{fmt}'", hint='use "json" or a JSON schema object')


def logprobs_json(model: Model, items: Iterable[TokenLogprob], top: int) -> list[Frame]:
    """Ollama's logprobs entries: token text, logprob, bytes and the top alternatives."""

    def entry(token: int, logprob: float) -> Frame:
        raw = model.engine.piece(token)
        return {"token": raw.decode("utf-8", "replace"), "logprob": logprob, "bytes": list(raw)}

    out = []
    for item in items:
        one = entry(item.token, item.logprob)
        if top:
            one["top_logprobs"] = [entry(t, lp) for t, lp in item.top[:top]]
        out.append(one)
    return out


def _line(frame: Frame) -> bytes:
    return json.dumps(frame, ensure_ascii=False).encode() + b"\n"


def error_text(exc: Exception) -> str:
    """The in-band error message; unexpected errors are logged, not shown."""
    if isinstance(exc, DanluError):
        return exc.one_line()
    log.exception("unhandled error while streaming")
    return "internal server error"


async def _lines(
    first: Frame | None, frames: AsyncIterator[Frame], stack: AsyncExitStack
) -> AsyncIterator[bytes]:
    async with stack:
        if first is None:
            return
        yield _line(first)
        try:
            async for frame in frames:
                yield _line(frame)
        except Exception as exc:  # the status line is sent: report in-band, as Ollama does
            yield _line({"error": error_text(exc)})


async def respond(
    stream: bool,
    frames: AsyncIterator[Frame],
    stack: AsyncExitStack,
    merge: Callable[[list[Frame]], Frame],
) -> Response:
    """NDJSON lines when streaming, else one merged object; `stack` holds the model.

    The first frame is awaited before any byte is sent, so an error at the start
    (a prompt too long, a bad grammar) still gets its own HTTP status, as in Ollama.
    """
    if not stream:
        async with stack:
            collected = [frame async for frame in frames]
        return JSONResponse(merge(collected))
    try:
        first = await anext(frames, None)
    except BaseException:
        await stack.aclose()
        raise
    # the background close covers a client gone before the body began (then a no-op)
    lines = _lines(first, frames, stack)
    return StreamingResponse(lines, media_type=NDJSON, background=BackgroundTask(stack.aclose))


def merge_text(frames: list[Frame], get: Callable[[Frame], str]) -> str:
    return "".join(get(f) for f in frames)


def merge_logprobs(frames: list[Frame]) -> list[Frame] | None:
    found = [item for f in frames for item in f.get("logprobs") or ()]
    return found or None


async def load_or_unload(
    pool: ModelPool, name: str, keep: float | None, clock: Clock, empty: Frame
) -> Frame:
    """A request with nothing to answer: load the model, or with keep_alive 0 unload it."""
    if keep == 0:
        await release(pool, store_name(pool, name))
        reason = "unload"
    else:
        async with hold(pool, name, keep):
            clock.mark_loaded()
        reason = "load"
    return {
        "model": name,
        "created_at": timestamp(),
        **empty,
        "done": True,
        "done_reason": reason,
        **clock.durations(),
    }


@dataclass(frozen=True)
class Endpoint:
    """What /api/chat and /api/generate each supply; `answer` is the flow they share."""

    plan: Callable[[Any, Model], Any]  # (body, model) -> a plan holding the prompt
    frames: Callable[..., AsyncIterator[Frame]]  # (ctx, model, plan, name, clock, request)
    merge: Callable[[list[Frame]], Frame]  # the non-streaming answer from the frames

    async def answer(self, body: Any, request: Request, empty: Frame | None) -> Response:
        """Stream or merge the frames; `empty` is the reply when there is nothing to
        generate, in which case the request only loads (or, keep_alive 0, unloads) the model."""
        ctx, clock = state(request), Clock()
        body.refuse_unsupported()
        keep = keep_alive_seconds(body.keep_alive)
        if empty is not None:
            return JSONResponse(await load_or_unload(ctx.pool, body.model, keep, clock, empty))

        def build(model: Model) -> Any:
            clock.mark_loaded()
            return self.plan(body, model)

        stack, model, plan = await hold_and_plan(hold(ctx.pool, body.model, keep), build)
        frames = self.frames(ctx, model, plan, body.model, clock, request)
        return await respond(body.stream, frames, stack, self.merge)

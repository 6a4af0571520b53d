"""Running prepared prompts for a route: streaming, collecting, n > 1, metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TypeVar

from starlette.requests import Request

from danlu.engine.base import Chunk, Completion
from danlu.errors import DanluError
from danlu.model import Model, Prompt
from danlu.server.bridge import JobStream
from danlu.server.state import ServerState

T = TypeVar("T")


async def hold_and_plan(
    holding: AbstractAsyncContextManager[Model], build: Callable[[Model], T]
) -> tuple[AsyncExitStack, Model, T]:
    """Hold a model and plan the request on it; the hold is released if planning fails.

    Planning runs on a worker thread: rendering, tokenizing and above all writing and
    parsing a grammar take one request's time, never the event loop's, which delivers
    every other request's tokens. The caller closes the returned stack when the response
    is done (streams outlive the route function, so the hold cannot be a plain
    `async with` there).
    """
    stack = AsyncExitStack()
    model = await stack.enter_async_context(holding)
    try:
        return stack, model, await asyncio.to_thread(build, model)
    except BaseException:
        await stack.aclose()
        raise


async def stream_prompt(
    ctx: ServerState, model: Model, prompt: Prompt, request: Request
) -> AsyncIterator[Chunk]:
    """Chunks of one prompt; usage and latency go to the metrics when it finishes."""
    job = JobStream(
        model, prompt, request, ctx.server.request_timeout, stopping=lambda: ctx.stopping
    )
    ended = False  # finished, or failed with an error the caller reports
    try:
        async for chunk in job:
            if chunk.finish_reason and chunk.usage is not None:
                ended = True
                ttft = None if job.first_token_at is None else job.first_token_at - job.started
                ctx.metrics.record_usage(chunk.usage, ttft, time.monotonic() - job.started)
            yield chunk
    except DanluError:
        ended = True
        raise
    finally:
        if not ended:  # the client went away (or the stream was dropped) first
            ctx.metrics.cancelled.inc()


async def collect_prompt(
    ctx: ServerState, model: Model, prompt: Prompt, request: Request
) -> Completion | None:
    """The whole answer, or None when the client went away first."""
    chunks = [c async for c in stream_prompt(ctx, model, prompt, request)]
    if not chunks or chunks[-1].finish_reason is None:
        return None
    return Completion.collect(chunks)


async def collect_many(
    ctx: ServerState, model: Model, prompts: list[Prompt], request: Request
) -> list[Completion | None]:
    """Several prompts at once (n > 1 or a batch of prompts): they share the slots."""
    return list(await asyncio.gather(*(collect_prompt(ctx, model, p, request) for p in prompts)))


async def merge_streams(
    ctx: ServerState, model: Model, prompts: list[Prompt], request: Request
) -> AsyncIterator[tuple[int, Chunk]]:
    """(index, chunk) pairs from several prompts streaming side by side."""
    if len(prompts) == 1:
        async for chunk in stream_prompt(ctx, model, prompts[0], request):
            yield 0, chunk
        return
    queue: asyncio.Queue[tuple[int, Chunk] | None] = asyncio.Queue()

    async def pump(index: int, prompt: Prompt) -> None:
        try:
            async for chunk in stream_prompt(ctx, model, prompt, request):
                await queue.put((index, chunk))
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(pump(i, p)) for i, p in enumerate(prompts)]
    try:
        remaining = len(tasks)
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
                continue
            yield item
        for task in tasks:
            task.result()  # surface an error from any of them
    finally:
        for task in tasks:
            task.cancel()

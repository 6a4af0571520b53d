"""From the decoding thread to asyncio: a job's chunks as an async iterator.

The iterator also watches the client: when it disconnects (streaming or not),
the request runs past its time limit, or the server is stopping, the job is
cancelled and its slot is freed at the next decode step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request

from danlu.engine.base import Chunk
from danlu.errors import DanluError, RequestTimeout, ShuttingDown
from danlu.model import Model, Prompt

POLL_SECONDS = 0.25


class JobStream:
    """Chunks of one submitted prompt, delivered on the event loop."""

    def __init__(
        self,
        model: Model,
        prompt: Prompt,
        request: Request,
        timeout: float,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = stopping
        self._queue: asyncio.Queue[Chunk | DanluError] = asyncio.Queue()
        self._request = request
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self._next_check = time.monotonic() + POLL_SECONDS
        self.first_token_at: float | None = None
        self.started = time.monotonic()

        def emit(item: Chunk | DanluError) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, item)

        self._job = model.submit(prompt, emit)

    def cancel(self) -> None:
        self._job.cancel()

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        try:
            while True:
                item = await self._next()
                if item is None:  # client went away
                    return
                if isinstance(item, DanluError):
                    raise item
                if self.first_token_at is None and item.token_ids:
                    self.first_token_at = time.monotonic()
                yield item
                if item.finish_reason:
                    return
        finally:
            self.cancel()

    async def _next(self) -> Chunk | DanluError | None:
        """The next item; None once the client is gone. Checks the clock and the client
        at least every POLL_SECONDS, even while tokens keep coming."""
        while True:
            now = time.monotonic()
            if now > self._deadline:
                raise RequestTimeout(
                    f"the request took longer than {self._timeout:g} s",
                    hint="ask for fewer tokens",
                )
            if now >= self._next_check:
                self._next_check = now + POLL_SECONDS
                if self._stopping():
                    raise ShuttingDown("the server is shutting down", hint="retry once it is back")
                if await self._request.is_disconnected():
                    return None
            if not self._queue.empty():  # the common case: no timer needed
                return self._queue.get_nowait()
            try:
                return await asyncio.wait_for(self._queue.get(), POLL_SECONDS)
            except asyncio.TimeoutError:
                continue

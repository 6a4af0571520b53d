"""From the decoding thread to asyncio: a job's chunks as an async iterator.

The iterator also watches the client: when it disconnects (streaming or not),
the request runs past its time limit, or the server is stopping, the job is
cancelled and its slot is freed at the next decode step.

Per token this costs the event loop as little as it can, since on a small machine
that CPU comes out of decoding: the decoding thread appends to a deque and wakes
the loop only when no wake-up is already pending, and one repeating timer per
request (not one per token) makes sure the checks run while tokens are slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
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
        self._loop = asyncio.get_running_loop()
        self._items: deque[Chunk | DanluError] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._wake_pending = False
        self._request = request
        self._stopping = stopping
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self._next_check = time.monotonic() + POLL_SECONDS
        self.first_token_at: float | None = None
        self.started = time.monotonic()
        self._job = model.submit(prompt, self._emit)

    def _emit(self, item: Chunk | DanluError) -> None:
        """On the decoding thread: queue the item, wake the loop unless a wake is pending."""
        self._items.append(item)
        if not self._wake_pending:
            self._wake_pending = True
            # RuntimeError: the loop is closed, the server stopped and nobody listens
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._wake_pending = False  # first: an item appended from now on schedules a wake
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def cancel(self) -> None:
        self._job.cancel()

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        self._timer = self._loop.call_later(POLL_SECONDS, self._tick)
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
            self._timer.cancel()
            self.cancel()

    def _tick(self) -> None:
        """Every POLL_SECONDS: wake the iterator so that it runs its checks."""
        self._wake()
        self._timer = self._loop.call_later(POLL_SECONDS, self._tick)

    async def _next(self) -> Chunk | DanluError | None:
        """The next item; None once the client is gone. Checks the clock, the client and
        the server at least every POLL_SECONDS, even while tokens keep coming."""
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
            if self._items:
                return self._items.popleft()
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

"""What every route needs, on `app.state.danlu`: settings, the model pool, the metrics.

Kept apart from the app factory so that route modules can import it without importing
the factory, which imports them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from danlu.config import Settings
from danlu.errors import DanluError
from danlu.server.metrics import Metrics
from danlu.server.pool import ModelPool
from danlu.server.settings import ServerSettings


@dataclass
class ServerState:
    """What every route needs: settings, the model pool and the metrics."""

    settings: Settings
    server: ServerSettings
    pool: ModelPool
    metrics: Metrics
    ready: bool = False  # the models named at start are loaded
    failure: DanluError | None = None  # why they could not be; the server then stops
    stopping: bool = False  # the server is shutting down: running requests end now
    stop: Callable[[], None] = lambda: None  # set by whoever runs the server
    # called as the server starts to stop, before it waits for open connections
    on_stopping: list[Callable[[], None]] = field(default_factory=list)
    # the server's event loop, set at startup: code on other threads (the page under
    # `serve --ui`) reaches the pool through it
    loop: asyncio.AbstractEventLoop | None = None

    def begin_stopping(self) -> None:
        """The server starts to stop: running requests end now, then the hooks run."""
        self.stopping = True
        for hook in self.on_stopping:
            hook()

    def default_model(self) -> str:
        loaded = self.pool.loaded()
        return (
            loaded[0].model.name
            if loaded
            else (self.server.models or [self.settings.default_model])[0]
        )


def state(request: Request) -> ServerState:
    return request.app.state.danlu

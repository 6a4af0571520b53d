"""Running an app under uvicorn (`danlu serve`, `danlu ui`): on a stop, work winds down first.

Without this, a stop (Ctrl-C, SIGTERM) waits for every running generation to finish,
which can take minutes, and for every open page's heartbeat stream. Instead the app is
told at once: each running request ends at its next check with a 503 "shutting down"
error (in-band for a stream that has started), its slot is freed, the page's streams end,
and uvicorn's grace period is left for the responses to flush.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from danlu.server.state import ServerState


class Server(uvicorn.Server):
    """uvicorn's server, which calls `on_stopping` before it starts shutting down."""

    def __init__(
        self, app: FastAPI, grace: float, on_stopping: Callable[[], None] = lambda: None
    ) -> None:
        super().__init__(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=grace))
        self.on_stopping = on_stopping

    def request_stop(self) -> None:
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.on_stopping()
        await super().shutdown(sockets)


def api_server(app: FastAPI, grace: float) -> Server:
    """The server for `create_app`'s app: a stop marks its state stopping and runs the
    state's hooks, and the app can stop it (`state.stop`, when its models fail to load)."""
    state: ServerState = app.state.danlu
    server = Server(app, grace, state.begin_stopping)
    state.stop = server.request_stop
    return server

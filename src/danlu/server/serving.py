"""Running the app under uvicorn: on a stop, running requests wind down first.

Without this, a stop (Ctrl-C, SIGTERM) waits for every running generation to finish,
which can take minutes. Instead the app is told at once: each running request ends at
its next check with a 503 "shutting down" error (in-band for a stream that has started),
its slot is freed, and uvicorn's grace period is left for the responses to flush.
"""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from danlu.server.state import ServerState


class Server(uvicorn.Server):
    """uvicorn's server, which tells danlu's app before it starts shutting down."""

    def __init__(self, app: FastAPI, grace: float) -> None:
        super().__init__(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=grace))
        self.state: ServerState = app.state.danlu
        self.state.stop = self.request_stop

    def request_stop(self) -> None:
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.state.stopping = True
        for hook in self.state.on_stopping:
            hook()
        await super().shutdown(sockets)

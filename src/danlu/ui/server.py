"""`danlu serve --ui`: the page at /ui of the API server, one process, one port.

The page's login takes one of the server's API keys as the password (any user name);
without keys it is open, which `attach` allows on loopback only. The chat borrows its
model from the server's pool, as an API request does: one copy in memory. When the
server stops, the page's running jobs are cancelled and waited for before the pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from danlu.config import Settings
from danlu.errors import InvalidParameter
from danlu.ui.app import end_streams, mount
from danlu.ui.context import PoolModels, UIContext, UISettings, is_loopback

PATH = "/ui"


def attach(app: FastAPI, host: str, keys: set[str], settings: Settings | None = None) -> FastAPI:
    """Mount the page at /ui of `app`, guarded by `keys` (the server's API keys)."""
    if not keys and not is_loopback(host):
        raise InvalidParameter(
            f"--ui on {host} would open the page to the network without a login",
            hint="give --api-key (the page's password), or bind to 127.0.0.1",
        )
    state = app.state.danlu  # the API's: its pool lends the chat its models
    page = UISettings(host=host, open_browser=False)
    ctx = UIContext.create(page, settings or state.settings, PoolModels(state))
    app.state.danlu_ui = ctx
    mount(app, ctx, PATH, keys)
    state.on_stopping.append(lambda: end_streams(app))  # open tabs do not hold the stop
    _close_on_shutdown(app, ctx)
    return app


def _close_on_shutdown(app: FastAPI, ctx: UIContext) -> None:
    """Wrap the app's lifespan (as gradio's mount does): on shutdown the page's jobs end
    first, while the pool they may borrow from is still open."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            try:
                yield state
            finally:
                await asyncio.to_thread(ctx.close)  # waits on processes: off the loop

    app.router.lifespan_context = lifespan

"""`danlu serve --ui`: the page at /ui of the API server, one process, one port.

The page's login takes one of the server's API keys as the password (any user name);
without keys it is open, which `attach` allows on loopback only. The chat borrows its
model from the server's pool, as an API request does: one copy in memory.
"""

from __future__ import annotations

from fastapi import FastAPI

from danlu.config import Settings
from danlu.errors import InvalidParameter
from danlu.ui.app import mount
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
    return mount(app, ctx, PATH, keys)

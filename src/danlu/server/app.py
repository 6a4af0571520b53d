"""The FastAPI app factory: routes are thin translations onto the engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from danlu.config import Settings
from danlu.errors import DanluError
from danlu.server.agent import router as agent_router
from danlu.server.errors import install_error_handlers
from danlu.server.guard import Guard
from danlu.server.kb import router as kb_router
from danlu.server.metrics import Metrics
from danlu.server.ollama.routes import root as ollama_root
from danlu.server.ollama.routes import router as ollama_router
from danlu.server.openai.routes import router as openai_router
from danlu.server.openapi import install_schema
from danlu.server.ops import router as ops_router
from danlu.server.pool import ModelPool
from danlu.server.settings import ServerSettings
from danlu.server.sites import SiteCORS, SitePolicy
from danlu.server.state import ServerState

EXPIRY_SECONDS = 1.0


def _queue_depth(pool: ModelPool) -> float:
    return float(sum(e.model.engine.scheduler.queue_depth for e in pool.loaded()))


def _active(pool: ModelPool) -> float:
    return float(sum(e.model.engine.scheduler.active for e in pool.loaded()))


def create_app(server: ServerSettings | None = None, settings: Settings | None = None) -> FastAPI:
    """A new app with its own model pool; nothing is loaded until startup."""
    server = server or ServerSettings()
    settings = settings or Settings()
    pool = ModelPool(settings, server)
    metrics = Metrics(lambda: _queue_depth(pool), lambda: _active(pool))
    ctx = ServerState(settings, server, pool, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.loop = asyncio.get_running_loop()
        # bind first, load in the background: /health answers 503 until the models are in
        tasks = [asyncio.create_task(_expire_forever(pool)), asyncio.create_task(_preload(ctx))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await pool.close()

    app = FastAPI(title="danlu", version="0.1.0", lifespan=lifespan)
    app.state.danlu = ctx
    install_error_handlers(app)
    install_schema(app)
    _add_ops_routes(app)
    _include_api_routers(app)
    sites = SitePolicy.of(server.allowed_origins, server.allowed_hosts, server.host)
    app.add_middleware(SiteCORS, policy=sites)
    app.add_middleware(
        Guard, keys=server.keys(), max_body=server.max_body_bytes, sites=sites, metrics=metrics
    )

    return app


async def _preload(ctx: ServerState) -> None:
    """Load the models named at start; on failure keep the reason and stop the server."""
    try:
        for name in ctx.server.models:
            await ctx.pool.get(name)
    except DanluError as exc:
        ctx.failure = exc
        ctx.stop()
        return
    ctx.ready = True


async def _expire_forever(pool: ModelPool) -> None:
    while True:
        await asyncio.sleep(EXPIRY_SECONDS)
        await pool.expire()


def _include_api_routers(app: FastAPI) -> None:
    app.include_router(openai_router)
    app.include_router(kb_router)
    app.include_router(agent_router)
    app.include_router(ollama_router)
    app.include_router(ollama_root)


def _add_ops_routes(app: FastAPI) -> None:
    app.include_router(ops_router)

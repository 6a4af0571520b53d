"""`danlu serve`: the OpenAI- and Ollama-compatible HTTP server."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from danlu.cli.access_flags import (
    AllowedHosts,
    AllowedOrigins,
    ApiKeyFile,
    ApiKeys,
    ConfigFile,
    KeepAlive,
)
from danlu.cli.engine_flags import with_engine_flags
from danlu.errors import InvalidParameter

Opt = typer.Option


@with_engine_flags
def serve(
    models: Annotated[list[str] | None, typer.Argument(help="Models to load at start.")] = None,
    host: Annotated[str | None, Opt("--host", help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, Opt("--port", "-p", help="TCP port (default 8585).")] = None,
    parallel: Annotated[int | None, Opt("--parallel", "-np", help="Slots per model.")] = None,
    ctx_size: Annotated[int | None, Opt("--ctx-size", "-c", help="Context per slot.")] = None,
    threads: Annotated[int | None, Opt("--threads", "-t", help="CPU threads.")] = None,
    *,
    engine: dict[str, Any],  # the engine flags' LoadOptions fields (@with_engine_flags)
    api_key: ApiKeys = None,
    api_key_file: ApiKeyFile = None,
    allowed_origins: AllowedOrigins = None,
    allowed_hosts: AllowedHosts = None,
    max_queue: Annotated[int | None, Opt("--max-queue", help="Waiting generations.")] = None,
    timeout: Annotated[float | None, Opt("--timeout", help="Seconds per request.")] = None,
    keep_alive: KeepAlive = None,
    max_loaded: Annotated[int | None, Opt("--max-loaded", help="Models in memory.")] = None,
    memory_budget: Annotated[int | None, Opt("--memory-budget", help="MB of models.")] = None,
    kb_roots: Annotated[
        list[Path] | None, Opt("--kb-roots", help="Folder /v1/kb/NAME/add may read (repeat).")
    ] = None,
    config: ConfigFile = None,
    ui: Annotated[bool, Opt("--ui", help="Also serve the web page at /ui (the ui extra).")] = False,
) -> int:
    """Serve models over HTTP: OpenAI (/v1) and Ollama (/api) APIs, with continuous batching."""
    from danlu.config import Settings
    from danlu.model import find_model
    from danlu.server import ServerSettings, create_app
    from danlu.server.serving import api_server
    from danlu.store import Catalog

    serving = ServerSettings.build(
        config,
        models=models,
        host=host,
        port=port,
        parallel=parallel,
        n_ctx=ctx_size,
        threads=threads,
        api_keys=api_key,
        api_key_file=api_key_file,
        allowed_origins=allowed_origins,
        allowed_hosts=allowed_hosts,
        max_queue=max_queue,
        request_timeout=timeout,
        keep_alive=keep_alive,
        max_loaded=max_loaded,
        memory_budget_mb=memory_budget,
        kb_roots=kb_roots,
        **engine,
    )
    settings = Settings()
    catalog = Catalog(settings)
    for name in serving.models:  # fail fast, before binding, on a wrong name
        find_model(name, settings, catalog)
    sock = listen(serving.host, serving.port)
    app = create_app(serving)
    if ui:
        _attach_page(app, serving)
    server = api_server(app, grace=serving.shutdown_grace)
    host, bound = sock.getsockname()[:2]
    loading = f"; loading {', '.join(serving.models)}" if serving.models else ""
    page = ", page /ui" if ui else ""
    print(
        f"danlu serving on http://{host}:{bound} (OpenAI /v1, Ollama /api{page}){loading}",
        flush=True,
    )
    server.run(sockets=[sock])
    failure = app.state.danlu.failure
    if failure is not None:
        raise failure
    return 0


def _attach_page(app, serving) -> None:
    """The web page at /ui; its login takes one of the server's API keys."""
    from danlu.extras import require

    require("gradio", "ui", "danlu serve --ui")
    from danlu.ui.server import attach

    attach(app, serving.host, serving.keys())


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening socket, so that a busy port is a clear error before anything loads, and
    a client that connects as soon as the banner is printed waits in the backlog until the
    app is up instead of being refused (uvicorn's own listen comes only after startup)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidParameter(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port or --host, or stop what is using it",
        ) from None
    sock.listen(backlog)  # the same backlog as uvicorn's default
    return sock

"""`danlu mcp`: danlu's models and knowledge bases for MCP clients, over stdio or HTTP."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from danlu.cli.access_flags import (
    AllowedHosts,
    AllowedOrigins,
    ApiKeyFile,
    ApiKeys,
    ConfigFile,
    KeepAlive,
)
from danlu.errors import InvalidParameter

Opt = typer.Option


def serve_mcp(
    http: Annotated[
        str | None,
        Opt(
            "--http",
            metavar="HOST:PORT",
            help="Serve streamable HTTP at http://HOST:PORT/mcp (keys as serve), not stdio.",
        ),
    ] = None,
    model: Annotated[
        str | None, Opt("--model", "-m", help="Model for tools that name none.")
    ] = None,
    ctx_size: Annotated[int | None, Opt("--ctx-size", "-c", help="Context per slot.")] = None,
    threads: Annotated[int | None, Opt("--threads", "-t", help="CPU threads.")] = None,
    api_key: ApiKeys = None,
    api_key_file: ApiKeyFile = None,
    allowed_origins: AllowedOrigins = None,
    allowed_hosts: AllowedHosts = None,
    keep_alive: KeepAlive = None,
    config: ConfigFile = None,
) -> int:
    """Serve danlu to MCP clients: models, chat, knowledge-base search and answers, embeddings."""
    from danlu.extras import require

    require("mcp", "agent", "danlu mcp")
    from danlu.server import ServerSettings
    from danlu.server.mcp import PATH, Services, serve_http, serve_stdio

    host, port = _address(http) if http else (None, None)
    serving = ServerSettings.build(
        config,
        models=[model] if model else None,
        host=host,
        port=port,
        n_ctx=ctx_size,
        threads=threads,
        api_keys=api_key,
        api_key_file=api_key_file,
        allowed_origins=allowed_origins,
        allowed_hosts=allowed_hosts,
        keep_alive=keep_alive,
    )
    services = Services(serving)
    if http is None:
        asyncio.run(serve_stdio(services))  # stdout is the protocol's: nothing is printed
        return 0
    from danlu.cli.serve import listen

    sock = listen(serving.host, serving.port)
    bound_host, bound_port = sock.getsockname()[:2]
    print(f"danlu MCP on http://{bound_host}:{bound_port}{PATH} (streamable HTTP)", flush=True)
    serve_http(services, sock)
    return 0


def _address(text: str) -> tuple[str | None, int]:
    """HOST:PORT, [IPv6]:PORT or PORT (host: the settings' default, loopback)."""
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise InvalidParameter(
            f"--http '{text}' is not HOST:PORT", hint="for example --http 127.0.0.1:8686"
        )
    return (host.strip("[]") or None), int(port)

"""`danlu ui`: the web page (chat, models, knowledge bases, training, evaluation)."""

from __future__ import annotations

import threading
import webbrowser
from typing import Annotated

import typer

from danlu.cli.access_flags import AllowedHosts, AllowedOrigins

Opt = typer.Option


def ui(
    host: Annotated[
        str | None,
        Opt("--host", help="Bind address; off loopback a password is required."),
    ] = None,
    port: Annotated[int | None, Opt("--port", "-p", help="TCP port (0: any free one).")] = None,
    no_browser: Annotated[bool, Opt("--no-browser", help="Do not open a browser.")] = False,
    password: Annotated[
        str | None, Opt("--password", help="Login password (env DANLU_UI_PASSWORD).")
    ] = None,
    max_upload_mb: Annotated[
        int | None, Opt("--max-upload-mb", help="Largest upload, in MiB.")
    ] = None,
    allowed_origins: AllowedOrigins = None,
    allowed_hosts: AllowedHosts = None,
) -> int:
    """Open the web page: chat, models, knowledge bases, training and evaluation.

    Unset flags fall back to DANLU_UI_* variables (DANLU_UI_PASSWORD, ...), then to the
    defaults in UISettings."""
    from danlu.extras import require

    require("gradio", "ui", "danlu ui")
    from danlu.cli.serve import listen
    from danlu.server.serving import Server
    from danlu.ui import UIContext, UISettings
    from danlu.ui.app import end_streams, page_app

    given = {
        "host": host,
        "port": port,
        "password": password or None,
        "max_upload_mb": max_upload_mb,
        "open_browser": False if no_browser else None,
        "allowed_origins": allowed_origins or None,
        "allowed_hosts": allowed_hosts or None,
    }  # the flags given; DANLU_UI_* variables and UISettings' defaults fill the rest
    settings = UISettings(**{k: v for k, v in given.items() if v is not None})
    settings.check()
    sock = listen(settings.host, settings.port)
    ctx = UIContext.create(settings)
    app = page_app(ctx)
    bound_host, bound = sock.getsockname()[:2]
    url = f"http://{bound_host}:{bound}/"
    print(f"danlu ui on {url}", flush=True)
    if settings.open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        server = Server(app, settings.shutdown_grace, on_stopping=lambda: end_streams(app))
        server.run(sockets=[sock])
    finally:
        ctx.close()
    return 0

"""The options of who may call a danlu server, and of its settings file: one spelling and
one help text for `serve`, `mcp --http` and `ui`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option

ApiKeys = Annotated[list[str] | None, Opt("--api-key", help="Accepted key (repeat).")]
ApiKeyFile = Annotated[Path | None, Opt("--api-key-file", help="One key per line.")]
AllowedOrigins = Annotated[
    list[str] | None, Opt("--allowed-origins", help="Web page allowed to call (repeat).")
]
AllowedHosts = Annotated[
    list[str] | None, Opt("--allowed-hosts", help="Host name to answer (repeat).")
]
KeepAlive = Annotated[float | None, Opt("--keep-alive", help="Idle seconds.")]
ConfigFile = Annotated[Path | None, Opt("--config", help="JSON settings file.")]

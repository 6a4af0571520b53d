"""A sub-command group (`danlu kb`, `danlu train`, …): typer's options that every group shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


def command_group(name: str, help: str, commands: dict[str, Callable[..., Any]]) -> typer.Typer:
    """The group `name`: its help text and one command per entry of `commands`."""
    app = typer.Typer(name=name, help=help, no_args_is_help=True, context_settings=HELP_OPTIONS)
    for command, func in commands.items():
        app.command(command)(func)
    return app

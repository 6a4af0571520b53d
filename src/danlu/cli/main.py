"""The `danlu` root command: a table of command names to the functions that run them."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from danlu.cli.edge import run_guarded
from danlu.cli.group import HELP_OPTIONS

# name -> "module:function" under danlu.cli; a function ending in () builds a sub-command
# group (a Typer of its own). Only the module of the command asked for is imported, so a
# command's start does not pay for every other command's imports.
COMMANDS = {
    "list": "models:list_models",
    "show": "models:show",
    "import": "models:import_model",
    "pull": "models:pull",
    "rm": "models:remove",
    "cp": "models:copy",
    "run": "run:run",
    "serve": "serve:serve",
    "mcp": "mcp:serve_mcp",
    "eval": "evaluate:evaluate",
    "bench": "bench:bench",
    "export": "export:export",
    "quantize": "export:quantize",
    "create": "create:create",
    "ui": "ui:ui",
    "doctor": "doctor:doctor",
    "tokenize": "tokenize:tokenize",
    "agent": "agent:agent",
    "kb": "kb:group()",
    "train": "train:group()",
    "data": "data:group()",
    "runs": "runs:group()",
    "prompt": "prompt:group()",
}


def command(name: str) -> object:
    """The function (or Typer group) behind command `name`."""
    module, attr = COMMANDS[name].split(":")
    target = getattr(importlib.import_module(f"danlu.cli.{module}"), attr.removesuffix("()"))
    return target() if attr.endswith("()") else target


def wanted(args: list[str]) -> list[str]:
    """The commands to build for `args`: the one named first, or all (for the root's help)."""
    first = next((a for a in args if not a.startswith("-")), None)
    return [first] if first in COMMANDS else list(COMMANDS)


def _print_version(wanted: bool) -> None:
    if wanted:
        from danlu import __version__

        print(f"danlu {__version__}")
        raise typer.Exit(0)


def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """丹炉 danlu — run, serve and manage local LLMs."""


def build_app(names: list[str] | None = None) -> typer.Typer:
    app = typer.Typer(
        name="danlu",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings=HELP_OPTIONS,
    )
    app.callback()(root)  # the root's own options (--version) and its help text
    for name in names or list(COMMANDS):
        target = command(name)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def main(args: list[str] | None = None) -> int:
    """Entry point of the console script and of in-process tests."""
    given = sys.argv[1:] if args is None else args
    code = run_guarded(build_app(wanted(given)), args)
    if args is None:
        sys.exit(code)
    return code

"""The `danlu` root command: a table of command names to the functions that run them."""

from __future__ import annotations

import sys

import typer

from danlu.cli import models, run, serve
from danlu.cli.edge import run_guarded

COMMANDS = {
    "list": models.list_models,
    "show": models.show,
    "import": models.import_model,
    "pull": models.pull,
    "rm": models.remove,
    "cp": models.copy,
    "run": run.run,
    "serve": serve.serve,
}


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="danlu",
        help="丹炉 danlu — run, serve and manage local LLMs.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name, func in COMMANDS.items():
        app.command(name)(func)
    return app


def main(args: list[str] | None = None) -> int:
    """Entry point of the console script and of in-process tests."""
    code = run_guarded(build_app(), args)
    if args is None:
        sys.exit(code)
    return code

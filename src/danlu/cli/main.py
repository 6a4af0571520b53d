"""The `danlu` root command: a table of command names to the functions that run them."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from danlu.cli import bench, data, doctor, evaluate, kb, models, run, runs, serve, train, ui
from danlu.cli import create as create_cmd
from danlu.cli import export as export_cmd
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
    "eval": evaluate.evaluate,
    "bench": bench.bench,
    "export": export_cmd.export,
    "quantize": export_cmd.quantize,
    "create": create_cmd.create,
    "ui": ui.ui,
    "doctor": doctor.doctor,
    "kb": kb.group(),  # a sub-command group: a Typer of its own
    "train": train.group(),
    "data": data.group(),
    "runs": runs.group(),
}


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


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="danlu",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(root)  # the root's own options (--version) and its help text
    for name, target in COMMANDS.items():
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def main(args: list[str] | None = None) -> int:
    """Entry point of the console script and of in-process tests."""
    code = run_guarded(build_app(), args)
    if args is None:
        sys.exit(code)
    return code

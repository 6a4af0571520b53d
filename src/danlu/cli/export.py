"""`danlu export RUN` and `danlu quantize MODEL TYPE`: into the store, with a parity table."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from danlu.cli.progress import bar
from danlu.cli.provenance import print_parity
from danlu.config import Settings
from danlu.export import COMMON

THREADS = typer.Option("--threads", "-t", min=1, help="CPU threads for quantizing and parity.")


def export(
    run: Annotated[str, typer.Argument(help="A training run: its id (danlu runs) or folder.")],
    name: Annotated[str, typer.Option("--name", help="Name of the new model in the store.")],
    quant: Annotated[
        str | None,
        typer.Option("--quant", "-q", help=f"Quantize the f16 GGUF, e.g. {', '.join(COMMON)}."),
    ] = None,
    adapter_only: Annotated[
        bool,
        typer.Option(
            "--adapter-only",
            help="Export the LoRA as a GGUF adapter that llama.cpp applies over the base.",
        ),
    ] = False,
    threads: Annotated[int, THREADS] = 2,
    allow_mismatch: Annotated[
        bool,
        typer.Option("--allow-mismatch", help="Register even if the f16 parity check fails."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The parity report as JSON.")] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show transformers' and peft's bars and warnings."),
    ] = False,
) -> int:
    """Merge a run's LoRA, convert to GGUF, quantize, check parity, and register the model."""
    from danlu.export.run import ExportOptions, export_run

    options = ExportOptions(
        name=name,
        quant=quant,
        threads=threads,
        allow_mismatch=allow_mismatch,
        adapter_only=adapter_only,
        verbose=verbose,
    )
    with bar("steps", "starting") as steps:
        result = export_run(run, options, Settings(), steps)
    report = result.report.to_dict()
    if as_json:
        print(json.dumps({"model": result.manifest.name, "parity": report}, indent=2))
    else:
        print_parity(report)
        kind = "adapter over " + str(result.manifest.parent) if adapter_only else None
        print(f"exported {result.manifest.name} ({kind or result.manifest.quantization})")
    return 0


def _list_types(wanted: bool) -> None:
    """`--list`: the types on stdout, one line; those that need an importance matrix apart."""
    if not wanted:
        return
    from danlu.export.quantize import NEEDS_IMATRIX, usable_types

    print(" ".join(usable_types()))
    print(f"need an importance matrix (not offered): {' '.join(NEEDS_IMATRIX)}", file=sys.stderr)
    raise typer.Exit(0)


def quantize(
    model: Annotated[str, typer.Argument(help="A GGUF model in the store.")],
    qtype: Annotated[
        str, typer.Argument(help=f"Quantization type, e.g. {', '.join(COMMON)}.", metavar="TYPE")
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Name of the result (default MODEL-TYPE).")
    ] = None,
    threads: Annotated[int, THREADS] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="The quality table as JSON.")] = False,
    list_types: Annotated[
        bool,
        typer.Option(
            "--list",
            help="List the types danlu can make and exit (no MODEL or TYPE needed).",
            callback=_list_types,
            is_eager=True,  # before the missing arguments are noticed, as --help is
        ),
    ] = False,
) -> int:
    """Quantize a GGUF model of the store and measure what it costs against the source."""
    from danlu.export.requant import quantize_model

    with bar("steps", "starting") as steps:
        result = quantize_model(model, qtype, name, Settings(), threads=threads, steps=steps)
    report = result.report.to_dict()
    if as_json:
        print(json.dumps({"model": result.manifest.name, "parity": report}, indent=2))
    else:
        print_parity(report)
        print(f"quantized {model} to {result.manifest.name} ({result.manifest.quantization})")
    return 0

"""`danlu export RUN` and `danlu quantize MODEL TYPE`: into the store, with a parity table."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from danlu.config import Settings
from danlu.export import COMMON
from danlu.export.parity import NEAR_TIE
from danlu.store import Manifest

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
    with steps_bar() as steps:
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

    with steps_bar() as steps:
        result = quantize_model(model, qtype, name, Settings(), threads=threads, steps=steps)
    report = result.report.to_dict()
    if as_json:
        print(json.dumps({"model": result.manifest.name, "parity": report}, indent=2))
    else:
        print_parity(report)
        print(f"quantized {model} to {result.manifest.name} ({result.manifest.quantization})")
    return 0


@contextmanager
def steps_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A bar over the steps of a long job; the step name is its label (stderr, terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("starting", total=None)

        def update(label: str, done: int, total: int) -> None:
            progress.update(task, description=label, completed=done, total=total)

        yield update


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _nats(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"


PARITY_COLUMNS = (
    "variant", "size", "greedy", "top-1", "Δ top-1", "LL/token", "Δ LL",
    "flips (near-ties)", "check",
)  # fmt: skip
VERDICTS = {True: "pass", False: "FAIL", None: ""}


def _flips(row: dict[str, Any]) -> str:
    """Three flips, two of them near-ties, as "3 (2)"; "-" in a report older than the count."""
    if "flips" not in row:
        return "-"
    return f"{row['flips']} ({row['near_ties']})"


def parity_cells(row: dict[str, Any]) -> list[str]:
    """One row of the parity table as text, in PARITY_COLUMNS order (the CLI and the page)."""
    from danlu.units import human_size

    return [
        row["variant"],
        human_size(row["size"]),
        f"{row['greedy']}/{row['prompts']}",
        _pct(row["top1"]),
        _pct(row["top1_drop"]),
        f"{row['ll']:.4f}",
        _nats(row["ll_drop"]),
        _flips(row),
        VERDICTS[row["passed"]],
    ]


def print_parity(report: dict[str, Any]) -> None:
    """The parity table: each variant against the reference, drops against the first row."""
    table = Table(title=f"parity against {report['reference']}", header_style="bold")
    for column in PARITY_COLUMNS:
        table.add_column(column, justify="left" if column == "variant" else "right")
    colours = {"pass": "[green]pass[/]", "FAIL": "[bold red]FAIL[/]", "": ""}
    for row in report["rows"]:
        *cells, verdict = parity_cells(row)
        table.add_row(*cells, colours[verdict])
    console = Console(soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, 120)  # a pipe or a file: do not squeeze to 80
    console.print(table)
    n = report["greedy_tokens"]
    print(
        f"  greedy: identical first {n} tokens; Δ: drop against the first row; flips: "
        "positions whose top token differs from the reference's, in brackets the near-ties "
        f"among them (the reference had that token within {NEAR_TIE} nats of its own)",
        file=sys.stderr,
    )


def print_derivation(m: Manifest) -> None:
    """What `danlu show` adds for a derived model (Modelfile) or an export (provenance)."""
    derived = {
        "parent": m.parent,
        "system": m.system,
        "sampling": json.dumps(m.sampling) if m.sampling else None,
        "n_ctx": m.n_ctx,
        "adapters": ", ".join(m.adapters) or None,
    }
    for key, value in derived.items():
        if value is not None:
            print(f"  {key:<15} {value}")
    if not m.provenance:
        return
    made = m.provenance
    print("  provenance")
    for key in ("run", "from", "quantization", "converter", "exported", "quantized"):
        if made.get(key):
            print(f"    {key:<13} {made[key]}")
    base = made.get("base") or {}
    if base:
        print(f"    {'base':<13} {base.get('name')} (sha256 {str(base.get('sha256'))[:12]}…)")
    if made.get("parity"):
        print("    parity")
        print_parity(made["parity"])

"""How the terminal shows an exported or derived model: the parity table and `show`'s lines.

`danlu export` and `danlu quantize` print the parity table; `danlu show` prints a derived
model's Modelfile settings and an export's provenance, parity table included. Both command
modules import this one, so neither imports the other.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from danlu.export.parity import NEAR_TIE
from danlu.export.parity_table import PARITY_COLUMNS, parity_cells
from danlu.store import Manifest


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

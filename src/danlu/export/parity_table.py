"""The parity report as rows of text: one table for `danlu export`/`quantize` and the page.

The CLI draws it with rich and colours the verdict; the Train tab's export panel hands
the same rows to a gradio table. Both read the report's dict (`ParityReport.to_dict`, or
the run's saved `exports/<name>.json`), so an old report shows too.
"""

from __future__ import annotations

from typing import Any

from danlu.units import human_size

PARITY_COLUMNS = (
    "variant", "size", "greedy", "top-1", "Δ top-1", "LL/token", "Δ LL",
    "flips (near-ties)", "check",
)  # fmt: skip
VERDICTS = {True: "pass", False: "FAIL", None: ""}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _nats(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"


def _flips(row: dict[str, Any]) -> str:
    """Three flips, two of them near-ties, as "3 (2)"; "-" in a report older than the count."""
    if "flips" not in row:
        return "-"
    return f"{row['flips']} ({row['near_ties']})"


def parity_cells(row: dict[str, Any]) -> list[str]:
    """One row of the parity table as text, in PARITY_COLUMNS order."""
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

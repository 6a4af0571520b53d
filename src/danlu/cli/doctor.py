"""`danlu doctor`: this machine, the engine defaults danlu picks on it and why, tuning
records and installed extras; the first thing to paste into a crash report."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def doctor(
    model: Annotated[
        str | None, typer.Argument(help="The model whose engine defaults to show.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> int:
    """Say what this machine is and what danlu will do on it (paste it into a bug report)."""
    from danlu.doctor import diagnose

    report = diagnose(model=model)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return 0
    sections = {
        "versions": report.versions,
        "cpu": report.cpu,
        "llama.cpp sees": {"features": _features(report.llama_cpp)},
        f"engine defaults for {report.model}": report.defaults,
        "extras": report.extras,
    }
    for title, rows in sections.items():
        _section(title, rows)
    print("tuning records on this machine (danlu bench MODEL --save-default)")
    for record in report.tunings or [{"(none)": "every load uses the defaults above"}]:
        for key, value in record.items():
            print(f"  {key}: {value}")
    return 0


def _features(info: dict[str, str]) -> str:
    """The features llama.cpp was built with, as it prints them (AVX2 = 1 ...)."""
    return " ".join(key for key, value in info.items() if value == "1") or "-"


def _section(title: str, rows: dict[str, str]) -> None:
    print(title)
    width = max(map(len, rows), default=0)
    for key, value in rows.items():
        print(f"  {key:<{width}} {value}")

"""`danlu bench MODEL...` (engine speed) and `danlu bench serve URL` (a server under load)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from danlu.bench.load import LoadSettings
from danlu.bench.speed import SpeedSettings
from danlu.cli.progress import bar
from danlu.cli.settings_flags import from_settings
from danlu.engine.sampling import validated
from danlu.errors import BackendError, InvalidRequest

Opt = typer.Option


SPEED_FLAGS = {  # llama-bench's flags
    "prompt_tokens": ("-p", "--n-prompt"),
    "gen_tokens": ("-n", "--n-gen"),
    "reps": ("-r", "--repetitions"),
    "threads": ("-t", "--threads"),
    "batch": ("-b", "--batch-size"),
    "depth": ("-d", "--n-depth"),
    "flash_attn": ("-fa", "--flash-attn"),
}


@from_settings(SpeedSettings, "speed", flags=SPEED_FLAGS)
@from_settings(LoadSettings, "load", skip={"url"}, help_prefix="serve: ")
def bench(
    targets: Annotated[
        list[str], typer.Argument(help="Models in the store; or 'serve' and a URL.")
    ],
    speed: dict[str, Any] | None = None,  # SpeedSettings' fields given
    load: dict[str, Any] | None = None,  # LoadSettings' fields given
    save_default: Annotated[
        bool,
        Opt(
            "--save-default",
            help="Measure flash attention and repack on and off, each setting in a child "
            "process of its own, and keep the fastest that runs as this model's default on "
            "this machine (loads without -fa/--repack use it; `danlu show` says why).",
        ),
    ] = False,
    as_json: Annotated[bool, Opt("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, Opt("--csv", help="Print CSV.")] = False,
) -> int:
    """Measure speed: prompt processing and generation, or a server under concurrent load."""
    from danlu.bench import report

    if targets[0] == "serve":
        if len(targets) != 2:
            raise InvalidRequest(
                "danlu bench serve takes one URL", hint="e.g. http://127.0.0.1:8585"
            )
        levels = _serve(targets[1], load or {})
        _print(levels, report.load_table, report.load_csv, as_json, as_csv)
        return 0
    from danlu.bench import bench_model

    settings = validated(SpeedSettings, **(speed or {}))
    rows = []
    for name in targets:
        with bar("tests", f"bench {name}") as progress:
            rows += (
                _tune(name, settings, progress)
                if save_default
                else bench_model(name, settings, progress=progress, on_failure=_told_failed)
            )
    if not rows:
        raise BackendError("no setting could be measured", hint="see the lines above")
    if as_json:
        print(report.speed_json(rows))
    else:
        print(report.speed_csv(rows) if as_csv else report.speed_table(rows), end="")
    return 0


def _told_failed(message: str) -> None:
    print(message, file=sys.stderr)


def _tune(name: str, settings, progress) -> list:
    """--save-default: every candidate setting measured apart, the fastest that ran recorded."""
    from danlu.bench.tune import save_default

    tuned, rows = save_default(name, settings, progress=progress)
    for what, knob in (("flash attention", "flash_attn"), ("repack", "repack")):
        value = tuned.value(knob)
        shown = ("on" if value else "off") if isinstance(value, bool) else value
        print(f"{name}: {what} {shown} by default, {tuned.reason(knob)}", file=sys.stderr)
    for candidate, why in tuned.unusable.items():
        print(f"{name}: {candidate} is unusable here: {why}", file=sys.stderr)
    return rows


def _serve(url: str, given: dict[str, Any]) -> list:
    from danlu.bench.load import bench_server, repeats_prompts

    settings = validated(LoadSettings, url=url, **given)
    if repeats_prompts(settings):
        print(
            "note: more requests than prompts; a prefix cache may shorten repeated prompts' TTFT",
            file=sys.stderr,
        )
    with bar("requests", f"bench serve {url}") as progress:
        return bench_server(settings, progress=progress)


def _print(levels, table, as_csv_fn, as_json: bool, as_csv: bool) -> None:
    import json

    if as_json:
        print(json.dumps(levels, indent=2))
    else:
        print(as_csv_fn(levels) if as_csv else table(levels), end="")

"""`danlu bench MODEL...` (engine speed) and `danlu bench serve URL` (a server under load)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from danlu.cli.progress import progress_bar
from danlu.engine.sampling import validated
from danlu.errors import InvalidRequest

Opt = typer.Option


def _ints(text: str | None, flag: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidRequest(f"{flag} takes comma-separated integers, not '{text}'") from None


def _switches(text: str | None, flag: str) -> list[bool] | None:
    if text is None:
        return None
    values = {"on": True, "off": False, "1": True, "0": False}
    try:
        return [values[part.strip()] for part in text.split(",") if part.strip()]
    except KeyError:
        raise InvalidRequest(f"{flag} takes on, off or both (on,off), not '{text}'") from None


def bench(
    targets: Annotated[
        list[str], typer.Argument(help="Models in the store; or 'serve' and a URL.")
    ],
    prompt: Annotated[str | None, Opt("-p", "--n-prompt", help="pp sizes, e.g. 512")] = None,
    gen: Annotated[str | None, Opt("-n", "--n-gen", help="tg sizes, e.g. 128")] = None,
    reps: Annotated[int, Opt("-r", "--repetitions", help="Measured repetitions.")] = 5,
    threads: Annotated[str | None, Opt("-t", "--threads", help="Thread counts, e.g. 1,2")] = None,
    batch: Annotated[str | None, Opt("-b", "--batch-size", help="Batch sizes, e.g. 512")] = None,
    depth: Annotated[str | None, Opt("-d", "--n-depth", help="Cached tokens, e.g. 0,512")] = None,
    flash_attn: Annotated[
        str | None, Opt("-fa", "--flash-attn", help="Flash attention, e.g. on,off")
    ] = None,
    repack: Annotated[
        str | None, Opt("--repack", help="Repacked weights, e.g. on,off (default: see show).")
    ] = None,
    concurrency: Annotated[str, Opt("--concurrency", help="serve: client counts.")] = "1,4,8",
    requests: Annotated[int, Opt("--requests", help="serve: requests per level.")] = 32,
    max_tokens: Annotated[int, Opt("--max-tokens", help="serve: tokens per request.")] = 128,
    model: Annotated[str, Opt("--model", help="serve: model name to request.")] = "smollm2",
    prompts: Annotated[Path | None, Opt("--prompts", help="serve: one prompt per line.")] = None,
    time_limit: Annotated[float, Opt("--time-limit", help="serve: seconds per level.")] = 300.0,
    api_key: Annotated[str | None, Opt("--api-key", help="serve: bearer key.")] = None,
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
        levels = _serve(
            targets[1], concurrency, requests, max_tokens, model, prompts, time_limit, api_key
        )
        _print(levels, report.load_table, report.load_csv, as_json, as_csv)
        return 0
    from danlu.bench import SpeedSettings, bench_model

    fields = {
        "prompt_tokens": _ints(prompt, "-p"),
        "gen_tokens": _ints(gen, "-n"),
        "reps": reps,
        "threads": _ints(threads, "-t"),
        "batch": _ints(batch, "-b"),
        "depth": _ints(depth, "-d"),
        "flash_attn": flash_attn.split(",") if flash_attn else None,
        "repack": _switches(repack, "--repack"),
    }
    settings = validated(SpeedSettings, **{k: v for k, v in fields.items() if v is not None})
    rows = []
    for name in targets:
        with progress_bar(f"bench {name}") as bar:
            rows += (
                _tune(name, settings, bar)
                if save_default
                else bench_model(name, settings, progress=bar)
            )
    if as_json:
        print(report.speed_json(rows))
    else:
        print(report.speed_csv(rows) if as_csv else report.speed_table(rows), end="")
    return 0


def _tune(name: str, settings, bar) -> list:
    """--save-default: every candidate setting measured apart, the fastest that ran recorded."""
    from danlu.bench.tune import save_default

    tuned, rows = save_default(name, settings, progress=bar)
    for what, knob in (("flash attention", "flash_attn"), ("repack", "repack")):
        value = tuned.value(knob)
        shown = ("on" if value else "off") if isinstance(value, bool) else value
        print(f"{name}: {what} {shown} by default, {tuned.reason(knob)}", file=sys.stderr)
    for candidate, why in tuned.unusable.items():
        print(f"{name}: {candidate} is unusable here: {why}", file=sys.stderr)
    return rows


def _serve(url, concurrency, requests, max_tokens, model, prompts, time_limit, api_key):
    from danlu.bench.load import LoadSettings, bench_server, repeats_prompts

    settings = validated(
        LoadSettings,
        **{
            "url": url,
            "model": model,
            "concurrency": _ints(concurrency, "--concurrency"),
            "requests": requests,
            "max_tokens": max_tokens,
            "prompts": prompts,
            "time_limit": time_limit,
            "api_key": api_key,
        },
    )
    if repeats_prompts(settings):
        print(
            "note: more requests than prompts; a prefix cache may shorten repeated prompts' TTFT",
            file=sys.stderr,
        )
    total = requests * len(settings.concurrency)
    with progress_bar(f"bench serve {url}") as bar:
        done = iter(range(1, total + 1))
        return bench_server(settings, progress=lambda: bar(next(done), total))


def _print(levels, table, as_csv_fn, as_json: bool, as_csv: bool) -> None:
    import json

    if as_json:
        print(json.dumps(levels, indent=2))
    else:
        print(as_csv_fn(levels) if as_csv else table(levels), end="")

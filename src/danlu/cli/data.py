"""`danlu data check FILE`: validate a training data file and describe it."""

from __future__ import annotations

import json
import statistics
from typing import Annotated, Any

import typer

from danlu.cli.group import command_group
from danlu.config import Settings
from danlu.train.data import DataSet, load_data
from danlu.train.data.examples import ChatExample, PreferenceExample, TextExample
from danlu.train.errors import DataError
from danlu.train.settings import TrainSettings

SHOWN = 20


def token_lengths(data: DataSet, model_name: str) -> list[int]:
    """Tokens per example as `danlu run` would see them (the model's template and
    tokenizer, through llama.cpp: no training libraries needed)."""
    import danlu

    with danlu.load(model_name, n_ctx=512) as model:
        lengths = []
        for example in data.examples:
            lengths.append(len(model.engine.tokenize(_text(model, example), add_bos=True)))
        return lengths


def _text(model: Any, example: Any) -> str:
    from danlu.chat.messages import Message

    if isinstance(example, TextExample):
        return example.text
    if isinstance(example, ChatExample):
        return model.template.render(list(example.messages), add_generation_prompt=False)
    assert isinstance(example, PreferenceExample)
    longer = max(example.chosen, example.rejected, key=len)
    turns = [*example.prompt, Message(role="assistant", content=longer)]
    return model.template.render(turns, add_generation_prompt=False)


def stats(lengths: list[int]) -> dict[str, Any]:
    if not lengths:
        return {}
    ordered = sorted(lengths)
    return {
        "min": ordered[0],
        "mean": round(statistics.fmean(ordered), 1),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
        "total": sum(ordered),
    }


def check(
    path: Annotated[str, typer.Argument(help="Data file (.jsonl/.json/.csv/.parquet) or hub id.")],
    format: Annotated[
        str | None, typer.Option("--format", help="Declare the format instead of detecting it.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model whose template and tokenizer count tokens (default: DANLU_DEFAULT_MODEL).",
        ),
    ] = None,
    max_length: Annotated[
        int, typer.Option("--max-length", help="Report examples longer than this many tokens.")
    ] = TrainSettings.model_fields["max_length"].default,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> int:
    """Validate every row (bad ones listed by line), count them and measure their tokens."""
    data = load_data(path, format)
    model = model or Settings().default_model
    lengths = token_lengths(data, model) if data.examples else []
    report = {
        "source": path,
        "format": data.format.name,
        "kind": data.format.kind,
        "rows": data.rows,
        "valid": len(data.examples),
        "invalid": len(data.problems),
        "problems": data.problems,
        "tokens": stats(lengths),
        "longer_than_max_length": sum(n > max_length for n in lengths),
    }
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print(report, max_length)
    if data.problems:
        raise DataError(f"{len(data.problems)} of {data.rows} rows are bad")
    return 0


def _print(report: dict[str, Any], max_length: int) -> None:
    print(f"{report['source']}: {report['format']} ({report['kind']})")
    print(f"rows: {report['rows']} · valid: {report['valid']} · invalid: {report['invalid']}")
    for line in report["problems"][:SHOWN]:
        print(f"  {line}")
    if len(report["problems"]) > SHOWN:
        print(f"  ... and {len(report['problems']) - SHOWN} more")
    t = report["tokens"]
    if t:
        print(
            f"tokens per example: min {t['min']} · mean {t['mean']} · p95 {t['p95']} · "
            f"max {t['max']} · total {t['total']}"
        )
        if report["longer_than_max_length"]:
            print(
                f"{report['longer_than_max_length']} examples exceed {max_length} tokens "
                "and would be cut"
            )


def group() -> typer.Typer:
    """The `danlu data` sub-command group."""
    return command_group("data", "Training data: validate and describe a file.", {"check": check})

"""`danlu eval`: score models in the store or behind a server; `danlu eval report` compares runs."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from danlu.cli.engine_flags import with_engine_flags
from danlu.cli.settings_flags import from_settings
from danlu.engine.sampling import validated
from danlu.errors import InvalidRequest
from danlu.evaluate.tasks.base import EvalSettings

Opt = typer.Option


@with_engine_flags
@from_settings(EvalSettings, "run")
def evaluate(
    targets: Annotated[
        list[str],
        typer.Argument(help="Models in the store or server URLs; or 'report' and run folders."),
    ],
    run: dict[str, Any] | None = None,  # EvalSettings' fields given
    judge_key: Annotated[str | None, Opt("--judge-key", help="Bearer key for the judge.")] = None,
    model: Annotated[str | None, Opt("--model", help="Model name on a server URL.")] = None,
    api_key: Annotated[str | None, Opt("--api-key", help="Bearer key for a server.")] = None,
    ctx_size: Annotated[int | None, Opt("--ctx-size", "-c", help="Context length.")] = None,
    output: Annotated[Path | None, Opt("--output", "-o", help="Report file (report).")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the results as JSON.")] = False,
    engine: dict[str, Any] | None = None,  # the engine flags' LoadOptions fields, for models
) -> int:
    """Measure a model: multiple choice (MMLU, C-Eval, CMMLU, JSONL), Q&A, perplexity,
    function calling (BFCL)."""
    if targets[0] == "report":
        return _report([Path(p) for p in targets[1:]], output or Path("report.md"))
    run = run or {}
    if "task" not in run:
        raise InvalidRequest("--task is required", hint="see 'danlu eval --help'")
    settings = validated(EvalSettings, **run)
    load = {"n_ctx": ctx_size, **(engine or {})}  # how store models are loaded
    with _judge(settings, judge_key, load) as grader:
        results = [_one(t, settings, model, api_key, load, grader) for t in targets]
    if as_json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        from danlu.evaluate.report import subject_table, table

        subjects = subject_table(results)  # a second table, after a blank line
        print(table(results) + (subjects and "\n" + subjects), end="")
    return 0


def _one(target: str, settings, model: str | None, api_key: str | None, load: dict, judge):
    from danlu.cli.progress import bar
    from danlu.evaluate import evaluate as run

    label = f"{target} {settings.task}"
    with _scorer(target, model, api_key, load) as scorer, bar("items", label) as progress:
        result = run(settings, scorer, progress=progress, judge=judge)
    print(f"results: {result['run_dir']}/result.json", file=sys.stderr)
    return result


@contextmanager
def _judge(settings, api_key: str | None, load: dict):
    """The judge's scorer for the whole command, or None without --judge."""
    if not settings.judge:
        yield None
        return
    with _scorer(settings.judge, settings.judge_model, api_key, load) as scorer:
        yield scorer


@contextmanager
def _scorer(target: str, model: str | None, api_key: str | None, load: dict):
    """A server URL's scorer, or a store model loaded with `load` (n_ctx and engine flags)."""
    from danlu.evaluate import ModelScorer, ServerScorer

    if target.startswith(("http://", "https://")):
        if not model:
            raise InvalidRequest("a server URL needs --model NAME", hint="the model it serves")
        scorer = ServerScorer(target, model, api_key)
        try:
            yield scorer
        finally:
            scorer.close()
        return
    import danlu

    with danlu.load(target, **load) as loaded:
        yield ModelScorer(loaded)


def _report(paths: list[Path], output: Path) -> int:
    from danlu.evaluate.report import load_results, write_report

    if not paths:
        raise InvalidRequest("no runs to report", hint="danlu eval report RUN_DIR... -o report.md")
    markdown, png = write_report(load_results(paths), output)
    print(f"wrote {markdown} and {png}")
    return 0

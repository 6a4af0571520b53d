"""Side-by-side reports of finished evaluations: a markdown table and a PNG bar chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from danlu.errors import InvalidRequest
from danlu.evaluate.runner import RESULT
from danlu.extras import require

MAX_SUBJECT_ROWS = 8  # runs with more subjects (MMLU's 57) show their overall score only


def load_results(paths: list[Path]) -> list[dict[str, Any]]:
    """result.json of each run folder (or the file itself), in the order given."""
    results = []
    for path in paths:
        file = path / RESULT if path.is_dir() else path
        try:
            results.append(json.loads(file.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise InvalidRequest(
                f"no finished evaluation at {path}: {exc}",
                hint="give run folders under DANLU_HOME/runs/eval-*",
            ) from None
    return results


def _column(result: dict[str, Any]) -> str:
    return f"{result['task']} ({result['metric']})"


def _cell(result: dict[str, Any]) -> str:
    overall = result["scores"]["overall"]
    if result["task"] == "perplexity":
        return f"ppl {result['scores']['perplexity']['perplexity']:.2f}"
    return f"{overall['mean']:.3f} ± {overall['stderr']:.3f} (n={overall['n']})"


def table(results: list[dict[str, Any]]) -> str:
    """Models as rows, tasks as columns, `mean ± stderr (n)` in each cell."""
    models = list(dict.fromkeys(r["target"]["model"] for r in results))
    columns = list(dict.fromkeys(_column(r) for r in results))
    cells = {(r["target"]["model"], _column(r)): _cell(r) for r in results}
    lines = [
        "| model | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for model in models:
        row = [cells.get((model, column), "–") for column in columns]
        lines.append(f"| {model} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def subject_table(results: list[dict[str, Any]]) -> str:
    """Per subject of each run that has a few (BFCL's categories): `mean (n)`, and the
    shares of malformed and cut-off answers where they are counted. Empty when no run has
    such subjects."""
    rows = []
    for result in results:
        subjects = result["scores"].get("subjects") or {}
        if not subjects or len(subjects) > MAX_SUBJECT_ROWS:
            continue
        for name, summary in subjects.items():
            rates = [summary.get(rate) for rate in ("malformed", "cut_off")]
            shown = " | ".join("–" if r is None else f"{r:.3f}" for r in rates)
            label = f"{result['target']['model']} {result['task']}"
            score = f"{summary['mean']:.3f} (n={summary['n']})"
            rows.append(f"| {label} | {name} | {score} | {shown} |")
    if not rows:
        return ""
    head = ["| run | subject | score | malformed | cut off |", "|---|---|---|---|---|"]
    return "\n".join(head + rows) + "\n"


def chart(results: list[dict[str, Any]], path: Path) -> Path:
    """Grouped bars: one group per task, one bar per model, with standard-error whiskers."""
    require("matplotlib", "eval", "the evaluation chart")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [r for r in results if r["task"] != "perplexity"]
    models = list(dict.fromkeys(r["target"]["model"] for r in scored))
    columns = list(dict.fromkeys(_column(r) for r in scored))
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(max(5, 1.8 * len(columns) + 2), 4))
    for i, model in enumerate(models):
        found = {
            _column(r): r["scores"]["overall"] for r in scored if r["target"]["model"] == model
        }
        xs = [j + i * width for j in range(len(columns))]
        means = [found[c]["mean"] if c in found else 0 for c in columns]
        errors = [found[c]["stderr"] if c in found else 0 for c in columns]
        ax.bar(xs, means, width, yerr=errors, capsize=3, label=model)
    ax.set_xticks([j + width * (len(models) - 1) / 2 for j in range(len(columns))], columns)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(results: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """`out` (markdown) with the table, and the chart beside it as `<out>.png`."""
    png = chart(results, out.with_suffix(".png"))
    subjects = subject_table(results)
    text = "# Evaluation report\n\n" + table(results) + (subjects and "\n" + subjects)
    text += f"\n![scores]({png.name})\n"
    out.write_text(text, encoding="utf-8")
    return out, png

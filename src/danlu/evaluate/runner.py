"""Running an evaluation: pick the items, score what is not cached yet, sum it up.

A run lives in `DANLU_HOME/runs/eval-<model>-<task>-<key>/`, the key a hash of the model,
the settings and the data, so the same command finds its run again: `samples.jsonl` gets
one line per scored item as it is scored (an interrupted run carries on from there), and
`result.json` is written, atomically, at the end.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from danlu.atomic import write_text_atomic
from danlu.config import Settings
from danlu.errors import InvalidRequest
from danlu.evaluate.hub import fetch_dataset, is_hub_ref
from danlu.evaluate.items import grouped
from danlu.evaluate.judge import Judge
from danlu.evaluate.scorers import Scorer
from danlu.evaluate.tasks import task_named
from danlu.evaluate.tasks.base import EvalSettings
from danlu.evaluate.tasks.perplexity import PerplexityTask, perplexity
from danlu.progress import Progress

SAMPLES, RESULT = "samples.jsonl", "result.json"
# shares a task may count beside its score (function calling: calls that could not be read
# in a finished answer, calls cut off by the length limit)
RATES = ("malformed", "cut_off")


def data_hash(path: Path) -> str:
    """sha256 over the data file, or over every file of a data folder (path and bytes)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def run_dir(
    danlu_settings: Settings, scorer: Scorer, settings: EvalSettings, data_sha: str
) -> Path:
    key = json.dumps(
        [scorer.describe().get("url"), scorer.name, settings.model_dump(mode="json"), data_sha],
        sort_keys=True,
    )
    short = hashlib.sha256(key.encode()).hexdigest()[:10]
    model = re.sub(r"[^A-Za-z0-9._-]+", "-", scorer.name)
    return danlu_settings.runs_dir / f"eval-{model}-{settings.task}-{short}"


def pick(items: list, limit: int | None, seed: int) -> list:
    """At most `limit` items, drawn with `seed`, in their original order."""
    if limit is None or limit >= len(items):
        return items
    keep = set(random.Random(seed).sample(range(len(items)), limit))
    return [item for i, item in enumerate(items) if i in keep]


def pick_per_subject(items: list, limit: int | None, seed: int) -> list:
    """At most `limit` items of each subject, each drawn with `seed`, subjects in order."""
    return [kept for group in grouped(items).values() for kept in pick(group, limit, seed)]


def _with_data(settings: EvalSettings) -> EvalSettings:
    """`settings` with the data folder or file to read: a hub dataset fetched (hf:ORG/NAME),
    or the data a task ships when none is given."""
    if settings.data is None:
        bundled = getattr(task_named(settings.task), "bundled_data", None)
        if bundled is None:
            raise InvalidRequest(
                f"the {settings.task} task needs --data", hint="see 'danlu eval --help'"
            )
        return settings.model_copy(update={"data": bundled()})
    if is_hub_ref(settings.data):  # hf:ORG/NAME: the snapshot folder in the hub cache
        return settings.model_copy(update={"data": fetch_dataset(str(settings.data))})
    return settings


def read_samples(path: Path) -> tuple[dict[str, dict[str, Any]], bool]:
    """Scored samples by id, and whether a line was cut short by a crash (it is dropped and
    scored again)."""
    done, torn = {}, False
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                sample = json.loads(line)
            except json.JSONDecodeError:
                torn = True
                continue
            done[sample["id"]] = sample
    return done, torn


def evaluate(
    settings: EvalSettings,
    scorer: Scorer,
    danlu_settings: Settings | None = None,
    progress: Progress | None = None,
    judge: Scorer | None = None,
) -> dict[str, Any]:
    """Score `settings.task` with `scorer` (Q&A graded by `judge` when `settings.judge`
    names one); the result (also in result.json) and its folder."""
    settings = _with_data(settings)
    task = task_named(settings.task)(settings)
    if settings.judge:
        if judge is None:
            raise InvalidRequest(f"the judge '{settings.judge}' was named but not opened")
        task.use_judge(Judge(judge))
    data = task.load()
    items = task.windows(scorer) if isinstance(task, PerplexityTask) else data.items
    if getattr(task, "limit_per_subject", False):  # a task may count --limit per subject
        items = pick_per_subject(items, settings.limit, settings.seed)
    else:
        items = pick(items, settings.limit, settings.seed)
    sha = data_hash(settings.data)
    folder = run_dir(danlu_settings or Settings(), scorer, settings, sha)
    folder.mkdir(parents=True, exist_ok=True)
    done, torn = read_samples(folder / SAMPLES)
    if torn:  # rewrite the log without the cut line before appending to it
        _rewrite(folder / SAMPLES, done)
    with (folder / SAMPLES).open("a", encoding="utf-8") as log:
        for count, item in enumerate(items, 1):
            if item.id not in done:
                dev = data.dev.get(item.subject) or data.dev.get("*", [])
                sample = {"id": item.id, "subject": item.subject, **task.score(item, scorer, dev)}
                log.write(json.dumps(sample, ensure_ascii=False) + "\n")
                log.flush()
                done[item.id] = sample
            if progress:
                progress(f"{scorer.name} {settings.task}", count, len(items))
    samples = [done[item.id] for item in items]
    result = _result(settings, scorer, task.metric_name, samples, sha, folder)
    write_text_atomic(folder / RESULT, json.dumps(result, indent=2, ensure_ascii=False))
    return result


def _rewrite(path: Path, done: dict[str, dict[str, Any]]) -> None:
    lines = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in done.values())
    write_text_atomic(path, lines)


def summarise(samples: list[dict[str, Any]], key: str = "score") -> dict[str, float]:
    """Mean of `key` with its standard error (sample standard deviation / sqrt n)."""
    values = [float(s[key]) for s in samples]
    n = len(values)
    mean = sum(values) / n if n else 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return {"n": n, "mean": mean, "stderr": math.sqrt(var / n) if n else 0.0}


def _subject(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """A subject's summary, with its shares of malformed and cut-off answers where they
    are counted."""
    summary: dict[str, Any] = summarise(samples)
    for rate in RATES:
        if rate in samples[0]:
            summary[rate] = summarise(samples, rate)["mean"]
    return summary


def _result(
    settings: EvalSettings,
    scorer: Scorer,
    metric: str,
    samples: list[dict[str, Any]],
    sha: str,
    folder: Path,
) -> dict[str, Any]:
    by_subject: dict[str, list] = defaultdict(list)
    for sample in samples:
        by_subject[sample["subject"]].append(sample)
    scores: dict[str, Any] = {"overall": summarise(samples)}
    if len(by_subject) > 1:
        scores["subjects"] = {s: _subject(group) for s, group in sorted(by_subject.items())}
    for rate in RATES:
        if samples and rate in samples[0]:
            scores[rate] = summarise(samples, rate)
    if samples and "acc_norm" in samples[0]:
        scores["acc_norm"] = summarise(samples, "acc_norm")
    if samples and "judge_verdict" in samples[0]:
        verdicts = [s["judge_verdict"] for s in samples]
        scores["judge_unclear"] = verdicts.count("unclear")
        scores[settings.metric] = summarise(samples, settings.metric)
    if settings.task == "perplexity":
        scores["perplexity"] = perplexity(samples)
    return {
        "task": settings.task,
        "metric": metric,
        "target": scorer.describe(),
        "settings": settings.model_dump(mode="json"),
        "data_sha256": sha,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(folder),
        "scores": scores,
    }

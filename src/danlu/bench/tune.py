"""`danlu bench MODEL --save-default`: measure the engine's candidate settings, keep the
fastest one that runs.

The candidates are flash attention on/off × repack on/off. Each runs the usual pp/tg tests
(the settings' sizes and reps, one thread count, no depth) in a child process of its own, a
fresh interpreter, so a candidate whose kernels crash (repacked weights on AMX, llama.cpp
#20824) dies alone: it is recorded as unusable with the signal that ended it, and the others
are still measured. The winner is the usable candidate with the highest mean, over the
tests, of its speed against the first usable candidate's (a tie keeps the earlier, llama.cpp's
defaults first). The record goes to `store/tuning.py`, where `danlu.load()` finds it.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from danlu.bench.isolate import Measure, isolated
from danlu.bench.speed import SpeedRow, SpeedSettings, bench_model
from danlu.config import Settings
from danlu.errors import BackendError, InvalidRequest
from danlu.progress import Progress
from danlu.store import Catalog
from danlu.store.tuning import TunedDefault, Tunings, label


@dataclass(frozen=True)
class Candidate:
    flash_attn: str
    repack: bool

    @property
    def label(self) -> str:
        return label(self.flash_attn, self.repack)


# llama.cpp's own defaults first: a tie keeps them
CANDIDATES = tuple(Candidate(fa, rp) for fa in ("on", "off") for rp in (True, False))


def choose(speeds: dict[str, dict[str, float]]) -> str:
    """The label with the highest mean ratio over the tests against the first label's speeds."""
    labels = list(speeds)
    base = speeds[labels[0]]

    def score(name: str) -> float:
        return statistics.fmean(speed / base[test] for test, speed in speeds[name].items())

    return max(labels, key=score)


def probe_settings(settings: SpeedSettings, danlu_settings: Settings) -> SpeedSettings:
    """The tests of `settings` at one thread count and no depth (a candidate's knobs are
    filled in per child)."""
    if len(settings.threads) > 1 or len(settings.batch) > 1:
        raise InvalidRequest(
            "--save-default measures one thread count and batch size",
            hint="give one -t and one -b (or none: the defaults a load gets)",
        )
    return settings.model_copy(
        update={"threads": settings.threads or [danlu_settings.threads], "depth": [0]}
    )


def measure(
    name: str, settings: SpeedSettings, danlu_settings: Settings, progress: Progress
) -> list[SpeedRow]:
    """The real measurement of one candidate (run in the child, so not isolated again)."""
    return bench_model(name, settings, danlu_settings, progress, isolate=False)


def save_default(
    name: str,
    settings: SpeedSettings,
    danlu_settings: Settings | None = None,
    progress: Progress | None = None,
    run: Measure = measure,
) -> tuple[TunedDefault, list[SpeedRow]]:
    """Measure every candidate of `name` apart; record and return the fastest that ran."""
    danlu_settings = danlu_settings or Settings()
    probe = probe_settings(settings, danlu_settings)
    sha256 = Catalog(danlu_settings).get(name).sha256
    per_candidate = settings.reps * sum(1 for n in (*probe.prompt_tokens, *probe.gen_tokens) if n)
    total = per_candidate * len(CANDIDATES)
    speeds: dict[str, dict[str, float]] = {}
    unusable: dict[str, str] = {}
    rows: list[SpeedRow] = []
    for i, candidate in enumerate(CANDIDATES):
        knobs = probe.model_copy(
            update={"flash_attn": [candidate.flash_attn], "repack": [candidate.repack]}
        )

        def report(done: int, offset: int = i * per_candidate, what: str = candidate.label) -> None:
            if progress:
                progress(f"bench {name}: {what}", offset + done, total)

        result = isolated(run, name, knobs, danlu_settings, report)
        if isinstance(result, str):
            unusable[candidate.label] = result
            continue
        rows += result
        speeds[candidate.label] = {r.test: r.tokens_per_second.mean for r in result}
    if not speeds:
        raise BackendError(
            f"no engine setting could run {name} here",
            hint="; ".join(f"{label}: {why}" for label, why in unusable.items()),
        )
    best = next(c for c in CANDIDATES if c.label == choose(speeds))
    tuned = TunedDefault(
        flash_attn=best.flash_attn,
        repack=best.repack,
        measured=dt.date.today().isoformat(),
        threads=probe.threads[0],
        speeds=speeds,
        unusable=unusable,
    )
    Tunings(danlu_settings.home).save(sha256, tuned)
    return tuned, rows

"""`danlu bench MODEL --save-default`: measure flash attention on and off, keep the faster.

The probe runs the usual pp/tg tests (the settings' sizes and reps, one thread count, no
depth) with each setting, then keeps the one whose speeds are higher on average: the
mean over the tests of on/off. A tie keeps off, llama-cpp-python's own default. The
record goes to `store/tuning.py`, where `danlu.load()` finds it for loads without -fa.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable

from danlu.bench.speed import SpeedRow, SpeedSettings, bench_model
from danlu.config import Settings
from danlu.errors import InvalidRequest
from danlu.store import Catalog
from danlu.store.tuning import TunedDefault, Tunings

SETTINGS = ("on", "off")


def choose(speeds: dict[str, dict[str, float]]) -> str:
    """'on' when its mean ratio over the tests is above 1, else 'off'."""
    ratios = [speed / speeds["off"][test] for test, speed in speeds["on"].items()]
    return "on" if ratios and statistics.fmean(ratios) > 1.0 else "off"


def probe_settings(settings: SpeedSettings, app: Settings) -> SpeedSettings:
    """The tests of `settings` with each flash-attention setting, at one thread count."""
    if len(settings.threads) > 1 or len(settings.batch) > 1:
        raise InvalidRequest(
            "--save-default measures one thread count and batch size",
            hint="give one -t and one -b (or none: the defaults a load gets)",
        )
    threads = settings.threads or [app.threads]
    return settings.model_copy(
        update={"flash_attn": list(SETTINGS), "threads": threads, "depth": [0]}
    )


def save_default(
    name: str,
    settings: SpeedSettings,
    app: Settings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[TunedDefault, list[SpeedRow]]:
    """Measure `name` with flash attention on and off; record and return the faster."""
    app = app or Settings()
    probe = probe_settings(settings, app)
    rows = bench_model(name, probe, app, progress)
    speeds = {
        fa: {r.test: r.tokens_per_second.mean for r in rows if r.flash_attn == fa}
        for fa in SETTINGS
    }
    tuned = TunedDefault(
        flash_attn=choose(speeds),
        measured=dt.date.today().isoformat(),
        threads=probe.threads[0],
        speeds=speeds,
    )
    Tunings(app.home).save(Catalog(app).get(name).sha256, tuned)
    return tuned, rows

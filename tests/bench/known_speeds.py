"""A test-only measurement for the tuner: every candidate reports speeds the test chose.

It lives in a module of its own so the tuner's spawned child can import it by name. The
rows are shaped as the real measurement's (one per test, tokens/s as a Spread), so the
tuner's choice and its record can be checked against a winner known in advance.
"""

from __future__ import annotations

from danlu.bench.speed import SpeedRow
from danlu.bench.stats import Spread
from danlu.store.tuning import label

# (flash attention, repack) -> {test: tokens/s}. Against the first candidate the mean
# speed ratio is 1.05 for fa on/repack off, 0.97 for fa off/repack on and 1.06 for fa off/
# repack off, the winner; the biggest pp or sum of speeds would pick fa on/repack off.
SPEEDS = {
    label("on", True): {"pp16": 1000.0, "tg4": 100.0},
    label("on", False): {"pp16": 1300.0, "tg4": 80.0},
    label("off", True): {"pp16": 900.0, "tg4": 104.0},
    label("off", False): {"pp16": 1000.0, "tg4": 112.0},
}
WINNER = ("off", False)


def measure_known(name, settings, danlu_settings, progress):
    """SPEEDS' rows for the one candidate `settings` holds, one per test it asks for."""
    fa, repack = settings.flash_attn[0], settings.repack[0]
    speeds = SPEEDS[label(fa, repack)]
    tests = [f"pp{n}" for n in settings.prompt_tokens if n]
    tests += [f"tg{n}" for n in settings.gen_tokens if n]
    rows = []
    for i, test in enumerate(tests, 1):
        spread = Spread.of([speeds[test]] * settings.reps)
        rows.append(
            SpeedRow(
                name,
                100.0,
                settings.threads[0],
                settings.batch[0],
                test,
                spread,
                flash_attn=fa,
                repack="on" if repack else "off",
            )
        )
        progress("measuring", i * settings.reps, len(tests) * settings.reps)
    return rows

"""A test-only measurement for the tuner: one candidate's child dies by a real SIGSEGV.

It lives in a module of its own so the tuner's spawned child can import it by name.
"""

from __future__ import annotations

import os
import signal

from danlu.bench import tune


def measure_or_crash(name, settings, danlu_settings, progress):
    """The real measurement, except that 'fa on, repack on' kills its own process."""
    if settings.flash_attn == ["on"] and settings.repack == [True]:
        os.kill(os.getpid(), signal.SIGSEGV)
    return tune.measure(name, settings, danlu_settings, progress)

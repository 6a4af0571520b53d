"""Fine-tuning: `sft(settings)` and `dpo(settings)`, one function per stage.

The settings objects (`SFTSettings`, `DPOSettings`) are what the CLI flags and YAML
recipes fill; `danlu.train.stages.STAGES` is the table of stages those come from. A run's
steps are told to `progress(label, step, steps)` when one is given (the CLI draws a bar).
Nothing heavy is imported until a stage runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from danlu.train.settings import DPOSettings, SFTSettings, TrainSettings
from danlu.train.stages import STAGES

if TYPE_CHECKING:
    from danlu.config import Settings
    from danlu.progress import Progress
    from danlu.train.runner import RunResult

__all__ = ["DPOSettings", "SFTSettings", "TrainSettings", "dpo", "sft"]


def sft(
    settings: SFTSettings, danlu_settings: Settings | None = None, progress: Progress | None = None
) -> RunResult:
    """Train `settings.model` on `settings.data`; the result lands in a run folder."""
    from danlu.train.runner import run

    return run(settings, STAGES["sft"], danlu_settings, progress)


def dpo(
    settings: DPOSettings, danlu_settings: Settings | None = None, progress: Progress | None = None
) -> RunResult:
    """Preference-tune `settings.model` on `settings.data` pairs, in a run folder."""
    from danlu.train.runner import run

    return run(settings, STAGES["dpo"], danlu_settings, progress)

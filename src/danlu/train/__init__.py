"""Fine-tuning: `sft(settings)` and `dpo(settings)`, one function per stage.

The settings objects (`SFTSettings`, `DPOSettings`) are what the CLI flags and YAML
recipes fill. Nothing heavy is imported until a stage runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from danlu.train.settings import DPOSettings, SFTSettings, TrainSettings

if TYPE_CHECKING:
    from danlu.config import Settings
    from danlu.train.runner import RunResult

__all__ = ["DPOSettings", "SFTSettings", "TrainSettings", "dpo", "sft"]


def sft(settings: SFTSettings, home: Settings | None = None) -> RunResult:
    """Supervised fine-tuning; see `danlu.train.stages.sft`."""
    from danlu.train.stages.sft import sft as run_sft

    return run_sft(settings, home)


def dpo(settings: DPOSettings, home: Settings | None = None) -> RunResult:
    """Preference tuning (DPO); see `danlu.train.stages.dpo`."""
    from danlu.train.stages.dpo import dpo as run_dpo

    return run_dpo(settings, home)

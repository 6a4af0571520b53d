"""The training stages: one table of what defines each, so a new stage is one entry.

A stage is its settings class (the CLI's flags, the page's form and the recipes are built
from it), the data kinds it trains on, how many sequences one example puts through the
model at once (the memory estimate), and its trainer builder: a function from the run's
`RunContext` to a TRL trainer, in its own module here, imported only when a run starts.
`danlu train STAGE`, the page's Train form and the runner read this table, nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from danlu.errors import InvalidParameter
from danlu.train.settings import DPOSettings, SFTSettings, TrainSettings

if TYPE_CHECKING:
    from danlu.train.runner import RunContext


@dataclass(frozen=True)
class Stage:
    """One training stage and everything that differs between stages."""

    name: str
    settings: type[TrainSettings]
    kinds: tuple[str, ...]  # the data kinds it trains on (train/data/formats: chat, text, ...)
    builder: str  # "module:function" building its trainer from a RunContext
    sequences: int = 1  # sequences per example in one step (DPO: chosen and rejected)

    def trainer_builder(self) -> Callable[[RunContext], Any]:
        module, _, function = self.builder.partition(":")
        return getattr(importlib.import_module(module), function)


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("sft", SFTSettings, ("chat", "text"), "danlu.train.stages.sft:build_sft_trainer"),
        Stage(
            "dpo",
            DPOSettings,
            ("preference",),
            "danlu.train.stages.dpo:build_dpo_trainer",
            sequences=2,
        ),
    )
}


def stage_named(name: str) -> Stage:
    if name not in STAGES:
        raise InvalidParameter(
            f"no training stage '{name}'", hint=f"the stages are {', '.join(STAGES)}"
        )
    return STAGES[name]

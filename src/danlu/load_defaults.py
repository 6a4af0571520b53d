"""The engine settings a load gets when no flag sets them, and why.

Each knob here goes by one precedence: its DANLU_* variable, then the record measured for
this model on this machine (`danlu bench MODEL --save-default`, store/tuning.py), then the
engine's own default (LoadOptions; for repack, the AMX rule of engine/llamacpp/machine.py).
`danlu.load()` applies them, and `danlu show`, `danlu run -v` and `danlu doctor` print them
with their reasons, so what is shown is what a load does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from danlu.config import Settings
from danlu.engine.base import LoadOptions
from danlu.store import Manifest
from danlu.store.tuning import TunedDefault, Tunings

KNOBS = ("flash_attn", "repack")


@dataclass(frozen=True)
class DefaultChoice:
    """A setting a load gets without its flag, and why."""

    value: Any
    reason: str
    chosen: bool  # False: the engine's own default, left for the engine to apply

    @property
    def shown(self) -> str:
        """The value as the flags spell it (on/off for a switch)."""
        if isinstance(self.value, bool):
            return "on" if self.value else "off"
        return str(self.value)

    @property
    def line(self) -> str:
        """'value: reason', as `danlu show` and `danlu run -v` print it."""
        return f"{self.shown}: {self.reason}"


def tuned_record(manifest: Manifest, settings: Settings) -> TunedDefault | None:
    """The record measured for this model file on this machine (llama.cpp models only)."""
    if manifest.backend != "llama.cpp":
        return None
    return Tunings(settings.home).get(manifest.sha256)


def flash_attn_choice(settings: Settings, tuned: TunedDefault | None) -> DefaultChoice:
    if settings.flash_attn:
        return DefaultChoice(settings.flash_attn, "from DANLU_FLASH_ATTN", chosen=True)
    if tuned is not None:
        return DefaultChoice(tuned.flash_attn, tuned.reason("flash_attn"), chosen=True)
    field = LoadOptions.model_fields["flash_attn"]
    return DefaultChoice(field.default, field.description or "", chosen=False)


def repack_choice(settings: Settings, tuned: TunedDefault | None) -> DefaultChoice:
    if settings.repack is not None:
        return DefaultChoice(settings.repack, "from DANLU_REPACK", chosen=True)
    if tuned is not None:
        return DefaultChoice(tuned.repack, tuned.reason("repack"), chosen=True)
    from danlu.engine.llamacpp.machine import repack_rule, system_info
    from danlu.system import cpu

    value, reason = repack_rule(cpu(), system_info())
    return DefaultChoice(value, reason, chosen=False)


def load_defaults(manifest: Manifest, settings: Settings) -> dict[str, DefaultChoice]:
    """Every knob's default for a load of `manifest`, by LoadOptions field."""
    tuned = tuned_record(manifest, settings)
    return {
        "flash_attn": flash_attn_choice(settings, tuned),
        "repack": repack_choice(settings, tuned),
    }


def chosen_options(defaults: dict[str, DefaultChoice]) -> dict[str, Any]:
    """The LoadOptions fields the defaults set (the engine's own are left unset)."""
    return {field: choice.value for field, choice in defaults.items() if choice.chosen}


def default_rows(manifest: Manifest, settings: Settings) -> dict[str, str]:
    """The engine settings a load of `manifest` gets without flags, and why (`danlu show`,
    `danlu doctor`)."""
    fields = LoadOptions.model_fields
    defaults = load_defaults(manifest, settings)
    return {
        "flash attention": defaults["flash_attn"].line,
        "repack": defaults["repack"].line,
        "KV cache": f"{fields['cache_type_k'].default} / {fields['cache_type_v'].default}",
        "batch": f"{fields['n_batch'].default} (micro-batch: the same)",
        "threads": f"{settings.threads} (prompt: the same)",
        "prompt cache in RAM": f"{fields['cache_ram'].default} MiB (-cram 0: off)",
    }

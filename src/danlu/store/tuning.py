"""Engine defaults measured on this machine: `danlu bench MODEL --save-default` writes them,
`danlu.load()` and `danlu show` read them.

Which flash-attention and repack settings are fastest, and whether repacked weights run at
all, depend on the CPU and the model (docs/engine.md), so the defaults are measured rather
than chosen by hand. One record per model file (its SHA-256) and machine (the CPU's name and
logical core count) lives in `DANLU_HOME/tuning.json`; a flag or a DANLU_* variable still
wins over it. A record written before repack was measured is no record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from danlu.atomic import write_text_atomic
from danlu.system import cpu

FILE = "tuning.json"


def label(flash_attn: str, repack: bool) -> str:
    """How a candidate is named in a record's speeds, e.g. 'fa on, repack off'."""
    return f"fa {flash_attn}, repack {'on' if repack else 'off'}"


class TunedDefault(BaseModel):
    """The fastest engine settings that ran for one model on one machine, and the evidence."""

    model_config = ConfigDict(extra="ignore")

    flash_attn: Literal["on", "off"] = Field(description="The setting a load without -fa gets.")
    repack: bool = Field(description="Whether a load without --repack/--no-repack repacks.")
    measured: str = Field(description="When it was measured (ISO date).")
    threads: int = Field(description="The thread count it was measured at.")
    speeds: dict[str, dict[str, float]] = Field(
        description="tokens/s per candidate and test, e.g. {'fa on, repack on': {'pp512': 401.2}}."
    )
    unusable: dict[str, str] = Field(
        default_factory=dict,
        description="Candidates that could not be measured, and why (e.g. 'died by SIGSEGV').",
    )

    def value(self, knob: str) -> str | bool:
        return {"flash_attn": self.flash_attn, "repack": self.repack}[knob]

    def reason(self, knob: str) -> str:
        """Why `knob` ('flash_attn' or 'repack') has its value: the candidate that differs
        from the chosen one in that knob alone, its speed ratios or why it did not run."""
        chosen = label(self.flash_attn, self.repack)
        if knob == "flash_attn":
            other = label("off" if self.flash_attn == "on" else "on", self.repack)
        else:
            other = label(self.flash_attn, not self.repack)
        if other in self.unusable:
            against = f"{other} {self.unusable[other]}"
        else:
            mine, theirs = self.speeds.get(chosen, {}), self.speeds.get(other, {})
            ratios = ", ".join(
                f"{test} {speed / theirs[test]:.2f}×"
                for test, speed in mine.items()
                if theirs.get(test)
            )
            against = f"{ratios} of {other}"
        return (
            f"measured on this machine on {self.measured} at {self.threads} threads "
            f"(danlu bench --save-default): {against}"
        )


class Tunings:
    """The records under `home`; a missing or unreadable file is no record, never an error
    (a default is a speed hint, and the hard-coded default is always safe)."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / FILE

    def _all(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def key(sha256: str) -> str:
        return f"{sha256}@{cpu().key}"

    def get(self, sha256: str) -> TunedDefault | None:
        record = self._all().get(self.key(sha256))
        try:
            return TunedDefault.model_validate(record) if record else None
        except ValidationError:
            return None

    def here(self) -> dict[str, TunedDefault]:
        """This machine's readable records, by model file SHA-256."""
        suffix = f"@{cpu().key}"
        found = {}
        for key, record in self._all().items():
            if key.endswith(suffix):
                try:
                    found[key.removesuffix(suffix)] = TunedDefault.model_validate(record)
                except ValidationError:
                    continue
        return found

    def save(self, sha256: str, tuned: TunedDefault) -> None:
        records = self._all()
        records[self.key(sha256)] = tuned.model_dump()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps(records, indent=2) + "\n")

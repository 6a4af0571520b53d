"""Engine defaults measured on this machine: `danlu bench MODEL --save-default` writes them,
`danlu.load()` and `danlu show` read them.

Which flash-attention setting is faster depends on the CPU and the model (docs/engine.md),
so the default is measured rather than chosen by hand. One record per model file (its
SHA-256) and machine (the CPU's name and logical core count) lives in
`DANLU_HOME/tuning.json`; an explicit `-fa` or `DANLU_FLASH_ATTN` still wins over it.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from danlu.store.atomic import write_text_atomic

FILE = "tuning.json"


class TunedDefault(BaseModel):
    """The faster flash-attention setting for one model on one machine, and the evidence."""

    model_config = ConfigDict(extra="ignore")

    flash_attn: Literal["on", "off"] = Field(description="The setting a load without -fa gets.")
    measured: str = Field(description="When it was measured (ISO date).")
    threads: int = Field(description="The thread count it was measured at.")
    speeds: dict[str, dict[str, float]] = Field(
        description="tokens/s per setting and test, e.g. {'on': {'pp512': 401.2, ...}}."
    )

    def reason(self) -> str:
        """One line for `danlu show` and the verbose engine line."""
        chosen, other = self.flash_attn, "off" if self.flash_attn == "on" else "on"
        ratios = ", ".join(
            f"{test} {speed / self.speeds[other][test]:.2f}×"
            for test, speed in self.speeds[chosen].items()
            if self.speeds.get(other, {}).get(test)
        )
        return (
            f"measured on this machine on {self.measured} at {self.threads} threads "
            f"(danlu bench --save-default): {ratios} of {other}"
        )


def machine() -> str:
    """What makes speeds comparable: the CPU model and its logical core count."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name} ×{os.cpu_count() or 1}"


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
        return f"{sha256}@{machine()}"

    def get(self, sha256: str) -> TunedDefault | None:
        record = self._all().get(self.key(sha256))
        try:
            return TunedDefault.model_validate(record) if record else None
        except ValidationError:
            return None

    def save(self, sha256: str, tuned: TunedDefault) -> None:
        records = self._all()
        records[self.key(sha256)] = tuned.model_dump()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps(records, indent=2) + "\n")

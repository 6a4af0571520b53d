"""What machine this is: the CPU's name, its cores and its feature flags.

Engine defaults depend on it (threads, whether weights are repacked), tuning records are
keyed by it, and `danlu doctor` prints it. It is read from /proc/cpuinfo once per process:
the CPU does not change under a running program.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# Intel's Advanced Matrix Extensions; llama.cpp's AMX matmul crashes on them (#20824)
AMX_FLAGS = frozenset({"amx_int8", "amx_tile", "amx_bf16"})


@dataclass(frozen=True)
class Cpu:
    """The processor as the operating system describes it."""

    name: str
    logical: int  # logical cores (hyper-threads count twice)
    physical: int  # physical cores: hyper-threads share a core's FPU, llama.cpp wants these
    flags: frozenset[str]

    @property
    def has_amx(self) -> bool:
        return bool(AMX_FLAGS & self.flags)

    @property
    def key(self) -> str:
        """What makes speeds comparable between runs: the model name and logical cores."""
        return f"{self.name} ×{self.logical}"


def parse_cpuinfo(text: str, logical: int) -> Cpu:
    """A Cpu from the text of /proc/cpuinfo (`logical`: os.cpu_count())."""
    name, flags, cores = "", frozenset(), set()
    phys = None
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name" and not name:
            name = value
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
        elif key == "physical id":
            phys = value
        elif key == "core id":
            cores.add((phys, value))
    physical = len(cores) or max(1, logical // 2)
    return Cpu(name or platform.processor() or platform.machine(), logical, physical, flags)


@functools.cache
def cpu() -> Cpu:
    """This machine's CPU (read once)."""
    logical = os.cpu_count() or 1
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return parse_cpuinfo(text, logical)

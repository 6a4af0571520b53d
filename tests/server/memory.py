"""Resident memory of this process (which runs the test servers), read from /proc.

`PeakMemory` resets the kernel's peak-RSS mark (VmHWM) when it starts, so the peak it
reads afterwards is the one reached since, not one left by an earlier test.
"""

from __future__ import annotations

from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
MIB = 1024 * 1024


def status_bytes(key: str) -> int:
    """A `kB` line of /proc/self/status (VmRSS, VmHWM) in bytes."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


class PeakMemory:
    """How far resident memory rose above where it stood when this was made."""

    def __init__(self) -> None:
        try:
            CLEAR_REFS.write_text("5")  # "5" resets VmHWM to the current RSS (Linux 4.0+)
            self._peak_key = "VmHWM"
        except OSError:  # not allowed here: fall back to the resident size at the end
            self._peak_key = "VmRSS"
        self.start = status_bytes("VmRSS")

    def rise(self) -> int:
        """Bytes of the highest resident size since the start, above the start."""
        return max(0, status_bytes(self._peak_key) - self.start)

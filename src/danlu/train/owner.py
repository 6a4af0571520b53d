"""Which process trains a run, and whether it still lives.

A run killed outright (SIGKILL, power loss, OOM killer) cannot write that it stopped, so
its record says "running" forever. The record names its owner instead: host, pid and the
process's start time. Once that process is gone, the run reads as interrupted. The start
time guards against a new process that reuses the pid; it is the kernel's (field 22 of
/proc/PID/stat, clock ticks since boot), and where there is no /proc the pid alone is
checked. A run trained on another host cannot be checked from here: it reads as running.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import BaseModel, Field


class Owner(BaseModel):
    """The process training a run."""

    host: str = Field(description="Host name of the machine it runs on.")
    pid: int = Field(description="Its process id.")
    started: str | None = Field(None, description="Its start time, as the kernel counts it.")

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(host=socket.gethostname(), pid=pid, started=start_time(pid))

    def gone(self) -> bool:
        """Whether the process has ended (False when it lives, or cannot be checked)."""
        if self.host != socket.gethostname():
            return False
        if self.started is not None:
            return start_time(self.pid) != self.started
        return not _pid_exists(self.pid)


def start_time(pid: int) -> str | None:
    """The start time of a live process from /proc; None if it is gone (or a zombie), or
    where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    state, started = fields[0], fields[19]  # fields 3 and 22 of proc(5)
    return None if state in ("Z", "X") else started


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True

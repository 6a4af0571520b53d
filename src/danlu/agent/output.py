"""What a sandbox run gave back: capped output, how it ended, and that as a tool message."""

from __future__ import annotations

import signal
from dataclasses import dataclass


class CappedOutput:
    """The first `limit` bytes of a stream; the rest is counted as dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        self.data += chunk[: max(room, 0)]
        self.truncated = self.truncated or len(chunk) > room

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class SandboxResult:
    """How one run ended. `exit_code` is None when a signal ended it (`signal`)."""

    stdout: str
    stderr: str
    exit_code: int | None
    signal: int | None
    timed_out: bool  # the wall-clock limit was reached and the group killed
    stdout_truncated: bool
    stderr_truncated: bool
    seconds: float
    confined: bool  # inside the namespaces; False only where allow_network let it run open

    @classmethod
    def from_run(
        cls,
        returncode: int,
        stdout: CappedOutput,
        stderr: CappedOutput,
        timed_out: bool,
        seconds: float,
        confined: bool,
    ) -> SandboxResult:
        return cls(
            stdout=stdout.text(),
            stderr=stderr.text(),
            exit_code=returncode if returncode >= 0 else None,
            signal=-returncode if returncode < 0 else None,
            timed_out=timed_out,
            stdout_truncated=stdout.truncated,
            stderr_truncated=stderr.truncated,
            seconds=seconds,
            confined=confined,
        )

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def status(self) -> str:
        """One line: how the run ended, in words a model can act on."""
        if self.timed_out:
            return f"stopped: still running at the time limit ({self.seconds:.1f} s)"
        if self.signal == signal.SIGXCPU:
            return "killed by SIGXCPU: the CPU time limit was reached"
        if self.signal is not None:
            return f"killed by signal {_signal_name(self.signal)}"
        return f"exit code {self.exit_code} in {self.seconds:.1f} s"

    def observation(self) -> str:
        """The status line, then stdout and stderr as they were kept: the tool message."""
        parts = [self.status()]
        for name, text, cut in (
            ("stdout", self.stdout, self.stdout_truncated),
            ("stderr", self.stderr, self.stderr_truncated),
        ):
            if text or cut:
                parts.append(f"{name}:\n{text}" + ("\n[… output truncated]" if cut else ""))
        return "\n".join(parts)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)

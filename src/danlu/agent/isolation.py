"""Which namespaces this machine lets the sandbox make, probed once per `Isolation`.

Root gets mount, pid and network namespaces from `unshare` directly; anyone else gets
them inside a user namespace that maps them to its root. The probe runs `unshare` with
the sandbox's own flags and `true`, the first time an answer is needed, and the object
keeps the answer: hold one `Isolation` for many runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cached_property

PROBE_SECONDS = 10


class Isolation:
    """The `unshare` command line that confines a sandbox here, and whether it works.

    `unshare`: the program to run (default: `unshare` on PATH; a missing path or ""
    means none, which is how a test stands for a machine without namespaces).
    """

    def __init__(self, unshare: str | None = None) -> None:
        self.unshare = (shutil.which("unshare") or "") if unshare is None else unshare
        self.as_root = os.geteuid() == 0

    def command(self, network: bool) -> list[str]:
        """`unshare` and its flags; `network` keeps the machine's network namespace."""
        user = [] if self.as_root else ["--user", "--map-root-user"]
        net = [] if network else ["--net"]
        # --fork: the child is pid 1 of the new pid namespace, so when it ends the
        # kernel kills every process it left; --kill-child: and when unshare is killed
        return [self.unshare, *user, "--mount", "--pid", "--fork", "--kill-child", *net]

    @cached_property
    def problem(self) -> str | None:
        """Why no namespaces can be made here, or None when they can."""
        if not self.unshare:
            return "the unshare program (util-linux) is not installed"
        try:
            probe = subprocess.run(
                [*self.command(network=False), "true"],
                capture_output=True,
                text=True,
                timeout=PROBE_SECONDS,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{self.unshare} did not run ({exc})"
        if probe.returncode != 0:
            lines = probe.stderr.strip().splitlines()
            return lines[-1] if lines else f"unshare exited with {probe.returncode}"
        return None

    @property
    def available(self) -> bool:
        return self.problem is None

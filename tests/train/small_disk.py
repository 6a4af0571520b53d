"""A danlu command run with one folder on a small tmpfs: a real full disk, not a simulated one.

The command runs in a mount namespace of its own (`unshare -m` as root, `unshare -rm`
otherwise), so the tmpfs is seen by that process only and vanishes with it; what the
command left on the tmpfs is listed from inside, before it goes. Where no namespace can
be made (no unshare, no user namespaces), the tests that need one are skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# Runs inside the namespace: the command, then what it left under the small folder.
CHILD = """
import json, sys
from pathlib import Path
from danlu.cli.main import main

folder, report, args = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
code = main(args)
left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
report.write_text(json.dumps({"code": code, "left": left}))
"""


@dataclass
class Outcome:
    code: int
    err: str
    left: list[str]  # what the command left under the small folder, relative to it


def _unshare() -> list[str]:
    command = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    try:
        probe = subprocess.run([*command, "true"], capture_output=True, check=False)
    except FileNotFoundError:
        pytest.skip("no unshare here: a small tmpfs cannot be mounted for the test")
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here ({probe.stderr.decode().strip()})")
    return command


def on_small_disk(folder: Path, size_mb: int, args: list[str], home: Path) -> Outcome:
    """`danlu ARGS` with DANLU_HOME=`home` and `folder` on a tmpfs of `size_mb` MB."""
    folder.mkdir(parents=True, exist_ok=True)
    report = home.parent / f"small-disk-{os.getpid()}.json"
    mount = f'mount -t tmpfs -o size={size_mb}m tmpfs "$0" && exec "$@"'
    child = [sys.executable, "-c", CHILD, str(folder), str(report), json.dumps(args)]
    env = {**os.environ, "DANLU_HOME": str(home), "NO_COLOR": "1"}
    done = subprocess.run(
        [*_unshare(), "sh", "-c", mount, str(folder), *child],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert report.is_file(), f"the command did not finish: {done.stderr[-2000:]}"
    result = json.loads(report.read_text())
    return Outcome(result["code"], done.stderr, result["left"])

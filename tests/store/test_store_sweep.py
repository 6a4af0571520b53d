"""Writers killed outright leave no model behind, and what they leave is swept.

A SIGKILL cannot be caught, so the child here kills itself from inside the write (its
progress callback) at a known point: the test is deterministic, the kill is real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from danlu.config import Settings
from danlu.store import Catalog
from danlu.store.staging import sweep_stale

KILL_MID_IMPORT = """
import os, signal, sys
from danlu.config import Settings
from danlu.store import Catalog

def die(label, done, total):
    if done:
        os.kill(os.getpid(), signal.SIGKILL)

Catalog(Settings()).import_path(sys.argv[1], "half", progress=die)
"""


def run_killed(script: str, *args: str, env: dict[str, str] | None = None) -> None:
    """Run `script` in a child that is expected to die of SIGKILL."""
    code = textwrap.dedent(script)
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def hidden(models: Path) -> list[str]:
    return sorted(p.name for p in models.iterdir() if p.name.startswith("."))


def test_an_import_killed_midway_leaves_no_model_and_is_swept(
    settings: Settings, smollm_gguf: Path
) -> None:
    run_killed(KILL_MID_IMPORT, str(smollm_gguf), env=dict(os.environ))
    models = Path(settings.models_dir)
    assert [h for h in hidden(models) if h.startswith(".staging-half@")], "no staging left?"
    assert not (models / "half").exists()
    catalog = Catalog(settings)
    assert "half" not in [m.name for m in catalog.list().models]
    assert hidden(models) == []  # swept when danlu started on the store


def test_sweep_keeps_a_live_writers_folder(tmp_path: Path) -> None:
    live = tmp_path / f".staging-a@{os.getpid()}-0000"
    dead = tmp_path / f".staging-b@{dead_pid()}-1111"
    trash = tmp_path / ".trash-c-2222"
    model = tmp_path / "d"
    for folder in (live, dead, trash, model):
        folder.mkdir()
        (folder / "part").write_bytes(b"x")
    assert sorted(sweep_stale(tmp_path)) == [dead.name, trash.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "d"]


def test_a_legacy_staging_folder_is_swept_once_old(tmp_path: Path) -> None:
    fresh, old = tmp_path / ".staging-x-aaaa", tmp_path / ".staging-y-bbbb"
    fresh.mkdir()
    old.mkdir()
    os.utime(old, (0, 0))
    assert sweep_stale(tmp_path) == [old.name]

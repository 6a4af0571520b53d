"""Issue 21 (findings 11, 12): an add cut short, by SIGKILL or by a full disk, is completed
by the next sync, never undone; a full disk is one line naming the folder and the space.

The kill is a real SIGKILL of a real `danlu kb add` process. The full disk is a small
tmpfs when this runs as root (it can mount one), and always SQLite's own limit on the
database's pages, which fails a write exactly as a full disk does.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from danlu.config import Settings
from danlu.errors import DiskFull
from danlu.kb import create
from danlu.kb import open as open_kb
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture
from tests.kb.test_ingest import consistent

FILES = 80
DANLU = str(Path(sys.executable).parent / "danlu")


def make_folder(folder: Path, files: int = FILES, repeat: int = 1) -> Path:
    folder.mkdir()
    for i in range(files):
        text = f"Warehouse {i} ships {i + 3} crates of tea to port {i % 11} every week. "
        (folder / f"doc{i:03}.md").write_text(f"# Record {i}\n\n{text * repeat}\n")
    return folder


def stored_files(database: Path) -> int:
    """Files committed so far, read from another connection (WAL lets it read)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return conn.execute("select count(*) from files").fetchone()[0]


def test_sync_after_a_killed_add_keeps_what_the_add_stored(
    danlu,  # noqa: F811
    danlu_home: Path,
    tmp_path: Path,
):
    folder = make_folder(tmp_path / "many")
    assert danlu("kb", "create", "many").code == 0
    database = danlu_home / "kb" / "many.sqlite"
    child = subprocess.Popen(
        [DANLU, "kb", "add", "many", str(folder), "--batch", "1"],
        env={**os.environ, "DANLU_HOME": str(danlu_home), "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while child.poll() is None and stored_files(database) < 3:
            time.sleep(0.02)
        assert child.poll() is None, "the add ended before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with open_kb("many") as kb:
        stored = consistent(kb)["files"]
    assert 3 <= stored < FILES

    synced = danlu("kb", "sync", "many")
    assert synced.code == 0
    assert synced.out.startswith(
        f"added {FILES - stored}, updated 0, unchanged {stored}, removed 0,"
    ), synced.out
    with open_kb("many") as kb:
        assert consistent(kb)["files"] == FILES


def test_a_full_database_is_disk_full_and_keeps_what_was_stored(
    danlu_home: Path, embedder, tmp_path: Path
):
    folder = make_folder(tmp_path / "docs", 24, repeat=20)  # ~1.5 kB each
    settings = Settings(home=danlu_home)
    kb = create("full", settings=settings, embedder=embedder)
    kb.add([folder / "doc000.md"])
    before = consistent(kb)
    pages = kb.store.conn.execute("pragma page_count").fetchone()[0]
    kb.store.conn.execute(f"pragma max_page_count = {pages}")  # no room to grow
    with pytest.raises(DiskFull) as caught:
        kb.add([folder], batch=2)
    assert caught.value.status == 507
    message = caught.value.one_line()
    assert message.startswith(f"the disk under {danlu_home / 'kb'} is full (")
    assert "needed" in message and "what was stored before is intact" in message
    assert consistent(kb)["files"] >= before["files"]
    kb.close()

    with open_kb("full", settings=settings, embedder=embedder) as reopened:  # no page limit
        stored = consistent(reopened)["files"]
        report = reopened.sync()
        assert not report.removed and len(report.unchanged) == stored
        assert consistent(reopened)["files"] == 24


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (root only): a knowledge base fits, little else."""
    mount = tmp_path / f"small-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip("mounting a tmpfs needs root; the page-limit test covers a full disk")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_kb_add_on_a_full_disk_is_one_line_and_sync_completes_it(
    danlu,  # noqa: F811
    small_disk: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    home = small_disk / "home"
    monkeypatch.setenv("DANLU_HOME", str(home))
    folder = make_folder(tmp_path / "docs", 40)
    danlu("kb", "create", "small")
    assert danlu("kb", "add", "small", str(folder / "doc000.md")).code == 0
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * (free - 120_000))  # ~30 pages left

    full = danlu("kb", "add", "small", str(folder), "--batch", "4")
    assert full.code == 1
    assert full.err.startswith(f"error: the disk under {home / 'kb'} is full (")
    assert "needed) (free some space" in full.err and full.err.count("\n") == 1
    with open_kb("small") as kb:
        stored = consistent(kb)["files"]
    assert stored >= 1

    (small_disk / "filler").unlink()
    synced = danlu("kb", "sync", "small")
    assert synced.out.startswith(f"added {40 - stored}, updated 0, unchanged {stored}, removed 0")

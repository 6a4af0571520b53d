"""An ingest killed with SIGKILL inside a store write (a file's transaction open, some
of its rows written) leaves a consistent KB on both stores; the next add completes it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import danlu.kb
from danlu.config import Settings
from tests.kb.conftest import STORES, store_for
from tests.kb.test_ingest import consistent

SMALL = 10  # one-chunk files, committed before the large one
BATCH = 4  # chunks embedded per batch: the large file is written a batch at a time

# The child kills itself from the progress callback at the large file's second batch:
# its first batch's rows are in the store, uncommitted, and its transaction is open.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import danlu.kb
    from danlu.config import Settings

    kb = danlu.kb.open(sys.argv[1], settings=Settings(home=Path(sys.argv[2])))
    seen = 0

    def in_transaction():
        conn = kb.store.conn
        status = getattr(getattr(conn, "info", None), "transaction_status", None)
        return conn.in_transaction if status is None else status.name == "INTRANS"

    def on_progress(step):
        global seen
        if step.path.endswith("zz-large.md") and step.done < step.total:
            seen += 1
            if seen == 2:
                print("killed in a transaction" if in_transaction() else "outside", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

    kb.add([Path(sys.argv[3])], on_progress, batch=int(sys.argv[4]))
    print("finished", flush=True)
    """
)


def make_folder(folder: Path) -> None:
    folder.mkdir()
    for i in range(SMALL):
        text = f"Warehouse {i} ships {i + 3} crates of tea to port {i % 11} every week."
        (folder / f"doc{i:03}.md").write_text(f"# Record {i}\n\n{text}\n")
    sections = [
        f"## Dock {i}\n\n" + f"Dock {i} loads barrels of rice for route {i * 7}. " * 6
        for i in range(3 * BATCH)
    ]
    (folder / "zz-large.md").write_text("# Docks\n\n" + "\n\n".join(sections) + "\n")


@pytest.mark.parametrize("kind", STORES)
def test_a_kill_inside_a_store_write_leaves_a_consistent_kb_and_the_next_add_completes_it(
    tmp_path: Path, embedder, kind: str, request
):
    home, folder = tmp_path / "home", tmp_path / "docs"
    make_folder(folder)
    settings = Settings(home=home)
    store = store_for(kind, request)
    danlu.kb.create("crash", settings=settings, embedder=embedder, store=store).close()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "crash", str(home), str(folder), str(BATCH)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    assert child.stdout.strip() == "killed in a transaction", child.stdout

    with danlu.kb.open("crash", settings=settings, embedder=embedder) as kb:
        counts = consistent(kb)  # the large file's written rows were rolled back
        assert counts["files"] == SMALL
        assert str(folder / "zz-large.md") not in kb.store.files()
        report = kb.add([folder], batch=BATCH)
        assert len(report.unchanged) == SMALL
        assert report.added == [str(folder / "zz-large.md")] and report.chunks > 2 * BATCH
        assert consistent(kb)["files"] == SMALL + 1
    danlu.kb.remove("crash", settings=settings)

"""An ingest killed with SIGKILL leaves a consistent KB; the next add completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import danlu.kb
from danlu.config import Settings
from tests.kb.test_ingest import consistent

FILES = 40

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import danlu.kb
    from danlu.config import Settings

    kb = danlu.kb.open(sys.argv[1], settings=Settings(home=Path(sys.argv[2])))
    kb.add([Path(sys.argv[3])], lambda p: print(p.chunks, flush=True), batch=4)
    print("finished", flush=True)
    """
)


def make_folder(folder: Path) -> None:
    folder.mkdir()
    for i in range(FILES):
        text = f"Warehouse {i} ships {i + 3} crates of tea to port {i % 11} every week."
        (folder / f"doc{i:03}.md").write_text(f"# Record {i}\n\n{text}\n")


def test_a_killed_ingest_leaves_a_consistent_kb_and_the_next_add_completes_it(
    tmp_path: Path, embedder
):
    home, folder = tmp_path / "home", tmp_path / "docs"
    make_folder(folder)
    settings = Settings(home=home)
    danlu.kb.create("crash", settings=settings, embedder=embedder).close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, "crash", str(home), str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert child.stdout is not None
    for line in child.stdout:  # wait until some files are committed, then kill mid-run
        assert line.strip() != "finished", "the ingest ended before it could be killed"
        if int(line) > 0:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    with danlu.kb.open("crash", settings=settings, embedder=embedder) as kb:
        counts = consistent(kb)
        assert 0 < counts["files"] < FILES
        report = kb.add([folder])
        assert len(report.unchanged) == counts["files"]
        assert len(report.added) == FILES - counts["files"]
        assert consistent(kb)["files"] == FILES

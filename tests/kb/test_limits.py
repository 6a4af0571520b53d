"""Issue 21 (findings 5, 15): large files are streamed in bounded memory, with progress
within the file; limits skip a file or refuse an add; a stopped add keeps what it stored.

Memory is read from /proc (VmHWM, the peak resident size) in a child process, so the
test's own allocations do not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from danlu.errors import PayloadTooLarge
from danlu.kb.policy import ReadPolicy
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture
from tests.kb.test_ingest import consistent

LINE_BYTES = 2_000_000  # one line, no sentence ends: the old chunker held ~1 GB for it
GROWTH_MB = 100  # what the whole add may add to the peak once the embedder is warm

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import danlu.kb
    from danlu.config import Settings
    from danlu.kb.embedders import open_embedder

    def peak_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024

    class Enough(Exception):
        pass

    home, path = Path(sys.argv[1]), Path(sys.argv[2])
    embedder = open_embedder("minilm")
    embedder.embed(["tea " * 250] * 4)  # torch's buffers for a batch, before the peak is read
    kb = danlu.kb.create("big", settings=Settings(home=home), embedder=embedder)
    steps = []

    def progress(step):
        steps.append(step.bytes_done)
        if 0 < step.bytes_done < step.bytes_total:
            raise Enough  # as a client that goes away does: stop at the next batch

    before = peak_mb()
    try:
        kb.add([path], on_progress=progress, batch=4)
    except Enough:
        pass
    grew = peak_mb() - before
    print(json.dumps({"grew_mb": grew, "bytes": steps, "files": kb.store.counts()["files"]}))
    """
)


def test_a_long_single_line_file_streams_in_bounded_memory_with_progress_inside_it(
    tmp_path: Path,
):
    path = tmp_path / "one-line.txt"
    words = ("tea", "crate", "port", "ship", "ledger", "cargo", "north", "wind")
    path.write_text(" ".join(words[i % 7] for i in range(LINE_BYTES // 5)))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "home"), str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    seen = json.loads(child.stdout.splitlines()[-1])
    assert seen["grew_mb"] < GROWTH_MB, seen
    size = path.stat().st_size
    assert any(0 < b < size for b in seen["bytes"]), seen["bytes"]  # the bar moved within it
    assert seen["files"] == 0  # stopped mid-file: the file's transaction was rolled back


def test_a_file_over_the_size_limit_is_one_line_and_the_rest_is_added(
    danlu,  # noqa: F811
    corpus: Path,
    tmp_path: Path,
):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "small.md").write_text("# Tea\n\nThe warehouse ships tea every week.\n")
    (docs / "large.txt").write_text("crates of tea. " * 200)  # 3,000 bytes
    danlu("kb", "create", "hb")
    added = danlu("kb", "add", "hb", str(docs), "--max-file-size", "2kB")
    assert added.code == 0
    assert added.out.startswith("added 1, updated 0, unchanged 0, removed 0, duplicate 0, skip")
    assert added.err == (
        f"skipped: {docs / 'large.txt'}: 3.0 KB, over the 2.0 KB limit for one file\n"
    )


def test_an_add_over_its_total_is_refused_before_anything_is_read(fresh_kb, tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"doc{i}.md").write_text(f"# Record {i}\n\n" + "Crates of tea. " * 60)
    policy = ReadPolicy(max_add_size=2_000)
    with pytest.raises(PayloadTooLarge, match=r"would read 2\.\d KB .* over the 2\.0 KB"):
        fresh_kb.add([docs], policy=policy)
    assert consistent(fresh_kb)["files"] == 0 and fresh_kb.sources == []
    fresh_kb.add([docs / "doc0.md"], policy=policy)  # under the limit: read
    assert consistent(fresh_kb)["files"] == 1
    # stored files of the same size are most likely unchanged: they do not count
    report = fresh_kb.add([docs], policy=ReadPolicy(max_add_size=2_000))
    assert len(report.unchanged) == 1 and len(report.added) == 2


def test_a_changed_file_now_over_the_limit_is_skipped_and_its_old_text_purged(
    fresh_kb, tmp_path: Path
):
    doc = tmp_path / "grows.txt"
    doc.write_text("A short note about tea.\n")
    fresh_kb.add([doc])
    doc.write_text("A long note about tea. " * 100)
    report = fresh_kb.sync(policy=ReadPolicy(max_file_size=1_000))
    assert report.removed == [str(doc)] and [p for p, _ in report.skipped] == [str(doc)]
    assert consistent(fresh_kb)["files"] == 0

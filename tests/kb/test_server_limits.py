"""Issue 21 (findings 5, 6, 16): what POST /v1/kb/NAME/add may read on a live server.

Reads stay under --kb-roots (none by default), links out of a folder are skipped, a file
over the size limit is a line in the report, an add over its total is a 413, and an add
whose client goes away stops at its next batch, its half-written file rolled back.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from danlu.config import Settings
from danlu.kb import ChunkSettings, create
from danlu.server import ServerSettings
from tests.server.conftest import LiveServer, start_server, stop_server

MAX_FILE = 1_000_000
MAX_ADD = 2_000_000


@dataclass
class KBServer:
    live: LiveServer
    root: Path

    def add(self, name: str, body: dict) -> httpx.Response:
        return httpx.post(f"{self.live.url}/v1/kb/{name}/add", json=body, timeout=300)

    def show(self, name: str) -> dict:
        return httpx.get(f"{self.live.url}/v1/kb/{name}", timeout=60).json()


@pytest.fixture(scope="module")
def kb_server(tmp_path_factory, embedder) -> Iterator[KBServer]:
    """No model; KB 'hb' (default chunks) and 'slow' (small chunks, many per file)."""
    home = tmp_path_factory.mktemp("kb-limits-home")
    root = tmp_path_factory.mktemp("kb-root")
    create("hb", settings=Settings(home=home), embedder=embedder).close()
    small = ChunkSettings(size=32, overlap=0)
    create("slow", settings=Settings(home=home), embedder=embedder, chunking=small).close()
    settings = ServerSettings(
        kb_roots=[root], kb_max_file_size=MAX_FILE, kb_max_add_size=MAX_ADD, threads=2
    )
    live = start_server(settings, home)
    yield KBServer(live, root)
    stop_server(live)


def test_paths_outside_the_roots_are_refused(kb_server: KBServer, tmp_path: Path):
    (tmp_path / "secret.txt").write_text("The director's salary is 9,999,999 thalers.\n")
    refused = kb_server.add("hb", {"paths": [str(tmp_path / "secret.txt")]})
    assert refused.status_code == 403
    assert "outside the folders knowledge bases may read" in refused.json()["error"]["message"]
    sneaky = kb_server.add("hb", {"paths": [str(kb_server.root / ".." / tmp_path.name)]})
    assert sneaky.status_code == 403
    assert kb_server.show("hb")["counts"]["files"] == 0


def test_a_server_without_roots_reads_nothing(tmp_path: Path, embedder):
    home = tmp_path / "home"
    create("hb", settings=Settings(home=home), embedder=embedder).close()
    (tmp_path / "note.txt").write_text("A note about tea.\n")
    live = start_server(ServerSettings(threads=2), home)
    try:
        body = {"paths": [str(tmp_path / "note.txt")]}
        refused = httpx.post(f"{live.url}/v1/kb/hb/add", json=body, timeout=60)
    finally:
        stop_server(live)
    assert refused.status_code == 403
    assert "(none are set)" in refused.json()["error"]["message"]


def test_links_and_large_files_are_skipped_and_said(kb_server: KBServer):
    folder = kb_server.root / "docs"
    (folder / "inner").mkdir(parents=True)
    (folder / "note.md").write_text("# Tea\n\nThe warehouse ships tea to the port weekly.\n")
    (folder / "huge.txt").write_bytes(b"tea " * (MAX_FILE // 4 + 1))
    (kb_server.root / "beside.txt").write_text("A file beside the folder, inside the root.\n")
    (folder / "inner" / "beside.txt").symlink_to(kb_server.root / "beside.txt")
    (folder / "etc-passwd.txt").symlink_to("/etc/passwd")
    report = kb_server.add("hb", {"paths": [str(folder)]})
    assert report.status_code == 200
    body = report.json()
    assert body["added"] == [str(folder / "note.md")]
    reasons = {s["path"]: s["reason"] for s in body["skipped"]}
    assert "over the 1.0 MB limit for one file" in reasons[str(folder / "huge.txt")]
    assert "follow links to read it" in reasons[str(folder / "inner" / "beside.txt")]
    assert "outside the roots" in reasons[str(folder / "etc-passwd.txt")]
    followed = kb_server.add("hb", {"paths": [str(folder)], "follow_links": True}).json()
    assert followed["added"] == [str(kb_server.root / "beside.txt")]
    assert str(folder / "etc-passwd.txt") in {s["path"] for s in followed["skipped"]}


def test_an_add_over_its_total_is_a_413(kb_server: KBServer):
    folder = kb_server.root / "bulk"
    folder.mkdir()
    for i in range(3):
        (folder / f"part{i}.txt").write_bytes(b"crates of tea. " * (MAX_FILE // 16))
    refused = kb_server.add("hb", {"paths": [str(folder)]})
    assert refused.status_code == 413
    assert "over the 2.0 MB one add may read" in refused.json()["error"]["message"]


def test_a_copy_is_reported_as_a_duplicate(kb_server: KBServer):
    first, second = kb_server.root / "first", kb_server.root / "second"
    for folder in (first, second):
        folder.mkdir()
        (folder / "tea.md").write_text("# Tea\n\nOolong is picked in spring.\n")
    kb_server.add("hb", {"paths": [str(first)]})
    copied = kb_server.add("hb", {"paths": [str(second)]}).json()
    assert copied["added"] == []
    assert copied["duplicates"] == [
        {"path": str(second / "tea.md"), "same_as": str(first / "tea.md")}
    ]


def test_an_add_stops_when_its_client_goes_away(kb_server: KBServer):
    folder = kb_server.root / "long"
    folder.mkdir()
    paragraph = "Warehouse {i} ships {j} crates of tea to the port of {k} every week.\n\n"
    text = "".join(paragraph.format(i=i, j=i * 7 % 13, k=i % 11) for i in range(3000))
    (folder / "long.txt").write_text(text)  # ~3,000 chunks of 32 tokens: minutes to embed
    body = json.dumps({"paths": [str(folder)]}).encode()
    url = httpx.URL(kb_server.live.url)
    client = socket.create_connection((url.host, url.port))
    client.sendall(
        b"POST /v1/kb/slow/add HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    running = wait_for(kb_server, lambda adds: adds and adds[0]["bytes_done"] > 0)
    assert running[0]["bytes_done"] < running[0]["bytes_total"]
    client.close()  # the client gives up
    wait_for(kb_server, lambda adds: adds == [])
    assert kb_server.show("slow")["counts"]["files"] == 0  # stopped mid-file: rolled back


def wait_for(kb_server: KBServer, done, deadline_s: float = 300) -> list[dict]:
    """Poll the 'slow' KB's running adds until `done(adds)`; the deadline only stops a
    hung test, it is not what is tested."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        adds = kb_server.show("slow")["ingesting"]
        if done(adds):
            return adds
        time.sleep(0.1)
    raise AssertionError(f"the add never reached the state waited for: {adds}")

"""Knowledge-base fixtures: the real MiniLM embedder, the project's corpus, real stores.

The embedder loads once per session; so does a KB built from the corpus on each store.
PostgreSQL (with pgvector) is a real server that the `pgserver` package runs from a
temporary folder for the session.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import danlu.kb
from danlu.config import Settings
from danlu.kb.embedders import open_embedder

DATA = Path(__file__).resolve().parents[1] / "data" / "kb"
sys.path.insert(0, str(DATA))
from make_corpus import write_corpus  # noqa: E402

STORES = ["sqlite", "postgres"]


def questions() -> list[dict]:
    lines = (DATA / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def embedder():
    return open_embedder("minilm")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test corpus, binary files made, in a session folder (read-only by convention)."""
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL server for the session. Its folder is not under pytest's tmp (mode
    0700): run as root, pgserver runs postgres as its own user, which must reach it."""
    pgserver = pytest.importorskip("pgserver", reason="the test extra installs pgserver")
    folder = tempfile.mkdtemp(prefix="danlu-pg-")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def store_for(kind: str, request: pytest.FixtureRequest) -> str | None:
    """None (the SQLite default) or the session PostgreSQL's URL."""
    return request.getfixturevalue("pg_url") if kind == "postgres" else None


@pytest.fixture(params=STORES)
def fresh_kb(request, embedder, danlu_home: Path) -> Iterator[danlu.kb.KnowledgeBase]:
    """An empty KB on each store, in this test's own DANLU_HOME; removed afterwards."""
    settings = Settings(home=danlu_home)
    name = f"t{uuid.uuid4().hex[:10]}"
    kb = danlu.kb.create(
        name, settings=settings, embedder=embedder, store=store_for(request.param, request)
    )
    yield kb
    kb.close()
    danlu.kb.remove(name, settings=settings)


@pytest.fixture(scope="session", params=STORES)
def built_kb(request, embedder, corpus, tmp_path_factory) -> Iterator[danlu.kb.KnowledgeBase]:
    """The corpus ingested once per store, for the retrieval tests (do not modify it)."""
    settings = Settings(home=tmp_path_factory.mktemp("kb-home"))
    name = f"corpus_{request.param}_{uuid.uuid4().hex[:6]}"
    kb = danlu.kb.create(
        name, settings=settings, embedder=embedder, store=store_for(request.param, request)
    )
    kb.add([corpus])
    yield kb
    kb.close()
    danlu.kb.remove(name, settings=settings)

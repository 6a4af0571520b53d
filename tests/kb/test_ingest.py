"""Ingestion is idempotent, replaces edited files, purges removed ones, skips bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import danlu.kb
from danlu.config import Settings
from danlu.errors import InvalidRequest
from danlu.kb.embedders import open_embedder
from danlu.kb.embedders.sentence import bundled_path
from danlu.kb.errors import (
    EmbedderMismatch,
    KnowledgeBaseExists,
    KnowledgeBaseNotFound,
    StoreUnavailable,
)


def consistent(kb) -> dict[str, int]:
    """Row counts, after checking that every table agrees with the others."""
    counts = kb.store.counts()
    files = kb.store.files()
    assert counts["files"] == len(files)
    assert counts["chunks"] == counts["chunk_vectors"] == counts["chunk_terms"]
    assert counts["chunks"] == sum(f.chunks for f in files.values())
    return counts


@pytest.fixture
def docs(corpus: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("handbook.md", "faq.html", "canteen_gbk.txt"):
        shutil.copy(corpus / name, folder / name)
    return folder


def test_re_adding_unchanged_files_changes_nothing(fresh_kb, docs: Path):
    first = fresh_kb.add([docs])
    assert len(first.added) == 3 and first.chunks > 3
    before = consistent(fresh_kb)
    ids = sorted(fresh_kb.store.chunks(range(1, 10_000)))
    again = fresh_kb.add([docs])
    assert not again.changed and len(again.unchanged) == 3 and again.chunks == 0
    assert consistent(fresh_kb) == before
    assert sorted(fresh_kb.store.chunks(range(1, 10_000))) == ids


def test_an_edited_file_has_its_chunks_replaced(fresh_kb, docs: Path):
    fresh_kb.add([docs])
    faq = docs / "faq.html"
    faq.write_text(faq.read_text().replace("extension 4321", "extension 9876"))
    report = fresh_kb.sync()
    assert report.updated == [str(faq)] and len(report.unchanged) == 2
    texts = [h.chunk.text for h in fresh_kb.search("help desk extension", k=20)]
    assert any("9876" in t for t in texts) and not any("4321" in t for t in texts)
    consistent(fresh_kb)


def test_a_deleted_file_is_purged_from_every_table(fresh_kb, docs: Path):
    fresh_kb.add([docs])
    before = consistent(fresh_kb)
    handbook_chunks = fresh_kb.store.files()[str(docs / "handbook.md")].chunks
    (docs / "handbook.md").unlink()
    report = fresh_kb.sync()
    assert report.removed == [str(docs / "handbook.md")]
    after = consistent(fresh_kb)
    assert after["files"] == before["files"] - 1
    assert after["chunks"] == before["chunks"] - handbook_chunks
    assert not any("handbook" in h.chunk.path for h in fresh_kb.search("annual leave", k=20))


def test_sync_adds_new_files_in_added_folders(fresh_kb, docs: Path, corpus: Path):
    fresh_kb.add([docs])
    shutil.copy(corpus / "policy.pdf", docs / "policy.pdf")
    assert fresh_kb.sync().added == [str(docs / "policy.pdf")]


def test_bad_files_are_skipped_and_the_rest_ingested(fresh_kb, docs: Path):
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (docs / "picture.png").write_bytes(b"\x89PNG\r\n")
    (docs / "empty.md").write_text("")
    report = fresh_kb.add([docs])
    assert len(report.added) == 3
    skipped = dict(report.skipped)
    assert set(skipped) == {str(docs / n) for n in ("broken.pdf", "picture.png", "empty.md")}
    assert "damaged PDF" in skipped[str(docs / "broken.pdf")]
    consistent(fresh_kb)


def test_a_missing_path_is_an_error_and_nothing_is_added(fresh_kb, docs: Path):
    with pytest.raises(InvalidRequest, match=r"no such file or folder: .*nowhere"):
        fresh_kb.add([docs, docs / "nowhere"])
    assert fresh_kb.store.counts()["files"] == 0


def test_a_kb_opened_with_another_embedder_is_refused(fresh_kb, docs: Path):
    fresh_kb.add([docs])
    before = consistent(fresh_kb)
    other = open_embedder(f"st:{bundled_path()}")  # the same weights under another name
    with pytest.raises(EmbedderMismatch, match="built with embedder 'minilm'"):
        danlu.kb.open(fresh_kb.name, embedder=other)
    assert consistent(fresh_kb) == before


def test_names_must_be_new_valid_and_known(danlu_home: Path, embedder):
    settings = Settings(home=danlu_home)
    danlu.kb.create("dup", settings=settings, embedder=embedder).close()
    with pytest.raises(KnowledgeBaseExists):
        danlu.kb.create("dup", settings=settings, embedder=embedder)
    with pytest.raises(KnowledgeBaseNotFound, match="no knowledge base named 'nope'"):
        danlu.kb.open("nope", settings=settings)
    with pytest.raises(InvalidRequest, match="not a valid knowledge base name"):
        danlu.kb.create("../escape", settings=settings, embedder=embedder)
    assert danlu.kb.list_names(settings) == ["dup"]
    danlu.kb.remove("dup", settings=settings)
    assert danlu.kb.list_names(settings) == []


def test_postgres_refuses_a_second_kb_of_the_same_name(pg_url: str, tmp_path: Path, embedder):
    first, second = Settings(home=tmp_path / "one"), Settings(home=tmp_path / "two")
    danlu.kb.create("shared", settings=first, embedder=embedder, store=pg_url).close()
    with pytest.raises(KnowledgeBaseExists, match="already holds a knowledge base"):
        danlu.kb.create("shared", settings=second, embedder=embedder, store=pg_url)
    danlu.kb.remove("shared", settings=first)


def test_an_unreachable_postgres_is_one_clear_error(danlu_home: Path, embedder):
    url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    with pytest.raises(StoreUnavailable, match="cannot open PostgreSQL at"):
        danlu.kb.create("x", settings=Settings(home=danlu_home), embedder=embedder, store=url)
    assert danlu.kb.list_names(Settings(home=danlu_home)) == []


def test_a_file_that_became_unreadable_is_purged_and_reported(fresh_kb, docs: Path, corpus):
    shutil.copy(corpus / "policy.pdf", docs / "policy.pdf")
    fresh_kb.add([docs])
    (docs / "policy.pdf").write_bytes(b"%PDF-1.4 overwritten by a broken download")
    report = fresh_kb.sync()
    assert report.removed == [str(docs / "policy.pdf")]
    assert [p for p, _ in report.skipped] == [str(docs / "policy.pdf")]
    assert str(docs / "policy.pdf") not in fresh_kb.store.files()
    consistent(fresh_kb)


def test_chunks_larger_than_the_embedder_reads_are_refused(danlu_home: Path, embedder):
    with pytest.raises(InvalidRequest, match="chunks of 400 tokens do not fit embedder"):
        danlu.kb.create(
            "big",
            settings=Settings(home=danlu_home),
            embedder=embedder,
            chunking=danlu.kb.ChunkSettings(size=400),
        )
    assert danlu.kb.list_names(Settings(home=danlu_home)) == []

"""Issue 21 (findings 13, 16): bad values are one line, an empty query is refused, a copy
of stored content is not stored twice, and one file can be removed from the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture


@pytest.fixture
def hb(danlu, corpus: Path) -> str:  # noqa: F811
    assert danlu("kb", "create", "hb").code == 0
    assert danlu("kb", "add", "hb", str(corpus / "handbook.md")).code == 0
    return "hb"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "hb", "leave", "-k", "0"], "invalid k=0: input should be greater than"),
        (["search", "hb", "leave", "-k", "-3"], "invalid k=-3: input should be greater than"),
        (["search", "hb", "leave", "--mode", "fuzzy"], "invalid mode='fuzzy': input should be"),
        (["search", "hb", "leave", "--mmr", "2"], "invalid mmr=2.0: input should be less"),
        (["ask", "hb", "leave", "-k", "0"], "invalid k=0: input should be greater than"),
        (["search", "hb", ""], "the query is empty"),
        (["search", "hb", "   "], "the query is empty"),
        (["ask", "hb", ""], "the query is empty"),
        (["add", "hb", ".", "--max-file-size", "ten"], "invalid max_file_size='ten'"),
        (["create", "other", "--chunk-size", "8"], "invalid size=8: input should be greater"),
    ],
)
def test_a_bad_value_is_one_line(danlu, hb: str, args: list[str], message: str):  # noqa: F811
    result = danlu("kb", *args)
    assert result.code == 1
    assert result.err.startswith(f"error: {message}"), result.err
    assert result.err.count("\n") == 1 and result.out == ""


def test_a_copy_of_a_folder_adds_nothing_twice(danlu, corpus: Path, tmp_path: Path):  # noqa: F811
    first, second = tmp_path / "docs", tmp_path / "copy"
    first.mkdir()
    for name in ("handbook.md", "faq.html"):
        shutil.copy(corpus / name, first / name)
    shutil.copytree(first, second)
    danlu("kb", "create", "hb")
    assert danlu("kb", "add", "hb", str(first)).out.startswith("added 2,")
    copied = danlu("kb", "add", "hb", str(second))
    assert copied.code == 0
    assert copied.out.startswith("added 0, updated 0, unchanged 0, removed 0, duplicate 2,")
    assert f"duplicate: {second / 'faq.html'}: same content as {first / 'faq.html'}" in copied.err
    hits = json.loads(danlu("kb", "search", "hb", "reset my password", "-k", "5", "--json").out)
    paths = [Path(h["path"]) for h in hits]
    assert first / "faq.html" in paths and not any(p.is_relative_to(second) for p in paths)
    shown = json.loads(danlu("kb", "show", "hb", "--json").out)
    assert shown["counts"]["files"] == 2


def test_a_changed_copy_is_added_and_a_copy_of_a_deleted_file_comes_back_on_sync(
    danlu,  # noqa: F811
    corpus: Path,
    tmp_path: Path,
):
    docs = tmp_path / "docs"
    (docs / "a").mkdir(parents=True)
    (docs / "b").mkdir()
    shutil.copy(corpus / "handbook.md", docs / "a" / "handbook.md")
    shutil.copy(corpus / "handbook.md", docs / "b" / "handbook.md")
    danlu("kb", "create", "hb")
    assert "duplicate 1," in danlu("kb", "add", "hb", str(docs)).out
    (docs / "a" / "handbook.md").unlink()
    synced = danlu("kb", "sync", "hb").out
    assert synced.startswith("added 1, updated 0, unchanged 0, removed 1, duplicate 0,")
    (docs / "b" / "handbook.md").write_text("# Other\n\nSomething else entirely.\n")
    shutil.copy(corpus / "handbook.md", docs / "a" / "handbook.md")
    assert danlu("kb", "sync", "hb").out.startswith("added 1, updated 1,")


def test_forget_removes_one_file_and_keeps_the_rest(danlu, corpus: Path, tmp_path: Path):  # noqa: F811
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("handbook.md", "faq.html"):
        shutil.copy(corpus / name, docs / name)
    danlu("kb", "create", "hb")
    danlu("kb", "add", "hb", str(docs))
    gone = danlu("kb", "forget", "hb", str(docs / "faq.html"))
    assert gone.code == 0 and gone.out == f"removed {docs / 'faq.html'}\n"
    assert f"`kb sync` adds it again while it is under {docs}" in gone.err
    shown = json.loads(danlu("kb", "show", "hb", "--json").out)
    assert shown["counts"] == {"files": 1, "chunks": shown["counts"]["chunks"],
                               "chunk_vectors": shown["counts"]["chunks"],
                               "chunk_terms": shown["counts"]["chunks"]}  # fmt: skip
    hits = json.loads(danlu("kb", "search", "hb", "reset my password", "--json").out)
    assert all(Path(h["path"]).name == "handbook.md" for h in hits)
    assert (docs / "faq.html").exists()  # the file itself is left alone
    missing = danlu("kb", "forget", "hb", str(docs / "faq.html"))
    assert missing.code == 1 and missing.err.startswith(
        f"error: {docs / 'faq.html'} is not in knowledge base 'hb'"
    )


def test_forgetting_an_added_file_forgets_it_as_a_source(danlu, corpus: Path):  # noqa: F811
    danlu("kb", "create", "hb")
    danlu("kb", "add", "hb", str(corpus / "handbook.md"), str(corpus / "faq.html"))
    gone = danlu("kb", "forget", "hb", str(corpus / "faq.html"))
    assert gone.code == 0 and gone.err == ""  # no remembered folder brings it back
    assert danlu("kb", "sync", "hb").out.startswith("added 0, updated 0, unchanged 1,")

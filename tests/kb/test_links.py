"""Issue 21 (finding 6): a symbolic link does not pull a file from outside the added folder
unless asked, and the server's roots bound every read, links included."""

from __future__ import annotations

from pathlib import Path

import pytest

from danlu.kb.errors import PathNotAllowed
from danlu.kb.policy import ReadPolicy
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture

SECRET = "The salary of the director is 9,999,999 thalers a year."


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """docs/ with a note, a link to a file outside, a link to a folder outside, a link
    to the note itself and a broken link."""
    docs, outside = tmp_path / "docs", tmp_path / "outside"
    (outside / "private").mkdir(parents=True)
    docs.mkdir()
    (docs / "note.md").write_text("# Tea\n\nThe warehouse ships tea to the port every week.\n")
    (outside / "secret.txt").write_text(SECRET + "\n")
    (outside / "private" / "more.txt").write_text("More private text about the director.\n")
    (docs / "secret.txt").symlink_to(outside / "secret.txt")
    (docs / "private").symlink_to(outside / "private", target_is_directory=True)
    (docs / "again.md").symlink_to(docs / "note.md")
    (docs / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    return docs


def test_links_out_of_the_folder_are_skipped_and_said(fresh_kb, linked: Path):
    report = fresh_kb.add([linked])
    assert report.added == [str(linked / "note.md")]  # the inside link is the same file
    skipped = dict(report.skipped)
    assert "a symbolic link out of" in skipped[str(linked / "secret.txt")]
    assert "follow links to read it" in skipped[str(linked / "secret.txt")]
    assert "a symbolic link out of" in skipped[str(linked / "private")]
    assert skipped[str(linked / "broken.txt")] == "a broken symbolic link"
    assert not any("salary" in h.chunk.text for h in fresh_kb.search("director salary", k=10))


def test_follow_links_reads_them(fresh_kb, linked: Path):
    report = fresh_kb.add([linked], policy=ReadPolicy(follow_links=True))
    outside = linked.parent / "outside"
    assert sorted(report.added) == sorted(
        str(p) for p in (linked / "note.md", outside / "secret.txt", outside / "private/more.txt")
    )
    assert any("salary" in h.chunk.text for h in fresh_kb.search("director salary", k=3))


def test_roots_bound_paths_and_links(fresh_kb, linked: Path, tmp_path: Path):
    inside = ReadPolicy(roots=(linked,), follow_links=True)
    report = fresh_kb.add([linked], policy=inside)
    assert report.added == [str(linked / "note.md")]
    assert "outside the roots" in dict(report.skipped)[str(linked / "secret.txt")]
    with pytest.raises(PathNotAllowed, match=r"outside the folders knowledge bases may read"):
        fresh_kb.add([tmp_path / "outside" / "secret.txt"], policy=inside)
    with pytest.raises(PathNotAllowed, match=r"\(none are set\)"):
        fresh_kb.add([linked], policy=ReadPolicy(roots=()))
    with pytest.raises(PathNotAllowed):  # a named link is judged by where it leads
        fresh_kb.add([linked / "secret.txt"], policy=inside)


def test_the_cli_says_which_links_it_skipped(danlu, linked: Path):  # noqa: F811
    danlu("kb", "create", "hb")
    added = danlu("kb", "add", "hb", str(linked))
    assert added.code == 0 and added.out.startswith("added 1,")
    assert f"skipped: {linked / 'secret.txt'}: a symbolic link out of {linked}" in added.err
    followed = danlu("kb", "add", "hb", str(linked), "--follow-links")
    assert followed.out.startswith("added 2, updated 0, unchanged 1,")

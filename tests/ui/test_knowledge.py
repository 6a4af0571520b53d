"""The Knowledge tab in a real browser: create, upload, ingest, list, search, a cited answer."""

from __future__ import annotations

import re


def _job_done(page, kind: str) -> bool:
    """The newest job of `kind` in the jobs panel is done (a failed one fails the test)."""
    cells = page.text("jobs-table").splitlines()
    for i in range(1, len(cells) - 2):
        if cells[i] == kind and re.fullmatch(rf"{kind}-\d+", cells[i - 1]):
            assert cells[i + 2] != "failed", cells[i - 1 : i + 5]
            return cells[i + 2] == "done"
    return False


def test_a_knowledge_base_from_an_upload_answers_with_sources(page, data_dir, ui_home):
    page.tab("Knowledge")
    page.type("kb-new-name", "handbook")
    page.click("kb-create")
    page.wait(lambda: "Created" in page.text("kb-status"))
    page.upload("kb-upload", data_dir / "kb" / "corpus" / "handbook.md")
    page.click("kb-add")
    page.wait(lambda: _job_done(page, "ingest"))
    page.click("kb-refresh")
    page.wait(lambda: "handbook.md" in page.text("kb-files"))
    # the upload was kept under DANLU_HOME, at a path the page chose
    assert list((ui_home / "ui" / "uploads" / "kb" / "handbook").rglob("handbook.md"))
    page.type("kb-query", "annual leave", enter=True)
    page.wait(lambda: "handbook.md" in page.text("kb-hits"))
    page.shot("knowledge")

    page.tab("Chat")
    page.open()  # loaded afresh: the chat's knowledge-base list is read when the page loads
    page.choose("chat-kb", "handbook")
    page.type("chat-input", "How many days of annual leave do employees get?", enter=True)
    page.wait(lambda: "[1]" in page.text("chat-sources"))
    assert "handbook.md" in page.text("chat-sources")
    page.wait(lambda: page.bot_messages() and page.bot_messages()[-1].strip())
    page.shot("chat-knowledge")
    page.choose("chat-kb", "(none)")


def test_an_unsupported_upload_is_a_readable_error(page, tmp_path):
    page.tab("Knowledge")
    page.choose("kb-pick", "handbook")
    odd = tmp_path / "program.exe"
    odd.write_bytes(b"MZ")
    page.upload("kb-upload", odd)
    page.click("kb-add")
    shown = page.wait(
        lambda: (
            (errors := page.errors())
            and any("not a file this page takes" in e for e in errors)
            and errors
        )
    )
    assert not any("Traceback" in e for e in shown)


def test_a_removed_file_leaves_the_list_and_the_search(page, data_dir):
    page.tab("Knowledge")
    page.choose("kb-pick", "handbook")
    page.upload("kb-upload", data_dir / "kb" / "corpus" / "offices.csv")
    page.click("kb-add")
    page.wait(lambda: re.search(r"job (ingest-\d+)", page.text("kb-status")))
    job = re.search(r"job (ingest-\d+)", page.text("kb-status"))[1]
    page.wait(lambda: _job_state(page, job) == "done")
    page.click("kb-refresh")
    page.wait(lambda: "offices.csv" in page.text("kb-files"))
    page.type("kb-query", "Lisbon office opening hours", enter=True)
    page.wait(lambda: "offices.csv" in page.text("kb-hits"))
    page.click("kb-refresh")  # the file picker is filled with the list
    page.choose("kb-file-pick", next(p for p in _paths(page) if p.endswith("offices.csv")))
    page.click("kb-remove")
    page.wait(lambda: "Removed" in page.text("kb-status"))
    page.wait(lambda: "offices.csv" not in page.text("kb-files"))
    assert "handbook.md" in page.text("kb-files")
    page.type("kb-query", "Lisbon office opening hours", enter=True)
    # hybrid search ranks what is left: the handbook's chunks, none of the removed file's
    page.wait(
        lambda: "handbook.md" in page.text("kb-hits") and "offices.csv" not in page.text("kb-hits")
    )


def _job_state(page, job_id: str) -> str | None:
    cells = page.text("jobs-table").splitlines()  # one cell a line: id, kind, what, state
    return cells[cells.index(job_id) + 3] if job_id in cells else None


def _paths(page) -> list[str]:
    return [line for line in page.text("kb-files").splitlines() if "/" in line]


def test_an_answers_citations_are_listed_under_it():
    """The page ends a grounded answer with its citations (the model's wording cannot be
    pinned, so the answer is written here; the citations are danlu.kb.answer's own)."""
    from danlu.kb.answer import Answer, cite
    from danlu.kb.retrieve import Hit
    from danlu.kb.stores.base import StoredChunk
    from danlu.ui.chat_tab import _citations_md

    chunks = [
        StoredChunk(1, "docs/handbook.md", 0, "Leave is 25 days.", None, ("Leave",), 0, 17),
        StoredChunk(2, "docs/faq.html", 0, "Reset it by mail.", None, ("Password",), 0, 17),
    ]
    hits = tuple(Hit(c, 0.5, 0.5) for c in chunks)
    text = "You get 25 days [1], and see the FAQ [2] or [7]."
    shown = _citations_md(Answer(text, hits, cite(text, hits), abstained=False))
    rule, *items = shown.strip().splitlines()
    assert rule == "---"
    assert items == [
        f"- [1] {chunks[0].where}",
        f"- [2] {chunks[1].where}",
        "- [7] (no such source)",
    ]
    assert _citations_md(Answer("No markers here.", hits, (), abstained=False)) == ""

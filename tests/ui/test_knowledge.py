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
    shown = len(re.findall(r"\[\d+\]", page.text("chat-sources")))
    # the answer ends with its citations, a list of "[n] where" under a rule
    cited = page.wait(lambda: _citation_items(page))
    numbers = [int(re.match(r"\[(\d+)\]", item)[1]) for item in cited]
    message = page.bot_messages()[-1]
    # each [n] the answer wrote is listed once (an answer with none: those attributed)
    assert set(map(int, re.findall(r"\[(\d+)\]", message))) == set(numbers), message
    for n, item in zip(numbers, cited, strict=True):
        assert ("handbook.md" in item) == (n <= shown), item
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


def _citation_items(page) -> list[str]:
    """The list items of the last answer that cite a source ("[n] where")."""
    items = page.driver.execute_script(
        """const all = [...document.querySelectorAll('#chatbot .message.bot')];
        const last = all[all.length - 1];
        return last ? [...last.querySelectorAll('li')].map(e => e.innerText.trim()) : [];"""
    )
    return [item for item in items if re.match(r"\[\d+\] ", item)]

"""The Models tab in a real browser: one model's details and chat template, the store as a
table, copy, delete behind its confirmation, and the import of a local GGUF as a job (the
table shows the new model by itself once the job ends), and a pull from the hub stand-in
as a job with its progress."""

from __future__ import annotations

from tests.conftest import smollm2_path
from tests.ui.conftest import HUB_REPO
from tests.ui.test_knowledge import _job_done


def _shown(page, elem_id: str) -> bool:
    return any(e.is_displayed() for e in page.driver.find_elements("css selector", f"#{elem_id}"))


def test_a_picked_model_shows_its_details_and_chat_template(page):
    page.tab("Models")
    page.choose("models-pick", "smollm2")
    page.wait(lambda: '"name": "smollm2"' in page.text("models-details"))
    assert '"quantization": "Q4_1"' in page.text("models-details")
    page.wait(lambda: "<|im_start|>" in page.text("models-template"))
    page.shot("models")


def test_a_copy_is_deleted_only_once_confirmed(page, ui_home):
    page.tab("Models")
    page.choose("models-pick", "smollm2")
    page.type("models-copy-name", "smol-copy")
    page.click("models-copy")
    page.wait(lambda: "Copied smollm2 to smol-copy" in page.text("models-status"))
    page.wait(lambda: "smol-copy" in page.text("models-table"))
    page.choose("models-pick", "smol-copy")
    page.click("models-delete")
    page.wait(lambda: "Delete smol-copy?" in page.text("models-status"))
    assert (ui_home / "models" / "smol-copy").is_dir()  # nothing goes before the second click
    page.click("models-delete-confirm")
    page.wait(lambda: "Deleted smol-copy" in page.text("models-status"))
    page.wait(lambda: "smol-copy" not in page.text("models-table"))
    assert not (ui_home / "models" / "smol-copy").exists()
    assert not _shown(page, "models-delete-confirm")


def test_a_local_gguf_file_is_imported_as_a_job(page, ui_home):
    page.tab("Models")
    page.type("models-import-path", str(smollm2_path()))
    page.type("models-import-name", "smol-imported")
    page.click("models-import")
    page.wait(lambda: _job_done(page, "import"))
    page.wait(lambda: "smol-imported" in page.text("models-table"))
    assert (ui_home / "models" / "smol-imported" / "manifest.json").is_file()


def test_a_pull_from_the_hub_is_a_job_with_its_progress(page, ui_home):
    page.tab("Models")
    page.type("models-pull-ref", f"{HUB_REPO}:F16")
    page.type("models-pull-name", "tiny-pulled")
    page.click("models-pull")
    page.wait(lambda: f"Pulling {HUB_REPO}:F16" in page.text("models-status"))
    page.wait(lambda: _job_done(page, "pull"))
    cells = page.text("jobs-table").splitlines()  # one cell a line, the newest job first
    at = cells.index("pull")
    assert cells[at + 1 : at + 4] == [f"{HUB_REPO}:F16", "done", "100%"], cells[at - 1 : at + 6]
    assert "pulled tiny-pulled" in page.text("jobs-table")
    page.wait(lambda: "tiny-pulled" in page.text("models-table"))  # no Refresh clicked
    assert (ui_home / "models" / "tiny-pulled" / "manifest.json").is_file()

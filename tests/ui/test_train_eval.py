"""The Train and Evaluate tabs in a real browser: a tiny run with its loss chart, bad rows,
its export to GGUF with the parity table and as an adapter alone, a run stopped and
resumed from its checkpoint, a DPO run picked as the form's stage, a tiny evaluation with
its table, and a bench of a model."""

from __future__ import annotations

import json
import re

from danlu.train.runs import last_checkpoint, read_record
from danlu.ui.export_panel import NO_QUANT
from tests.ui.test_knowledge import _job_done


def test_bad_training_rows_are_listed_not_a_trace(page, data_dir):
    page.tab("Train")
    page.upload("train-upload", data_dir / "train" / "bad.jsonl")
    page.wait(lambda: page.find("#train-data textarea, #train-data input").get_attribute("value"))
    page.click("train-check")
    page.wait(lambda: "bad" in page.text("train-report") and "line" in page.text("train-report"))
    page.click("train-start")
    page.wait(lambda: any("rows are bad" in e for e in page.errors()))
    assert not any("Traceback" in e for e in page.errors())


def test_a_tiny_run_draws_its_loss_curve(page, data_dir, ui_home):
    page.tab("Train")
    page.upload("train-upload", data_dir / "train" / "facts.jsonl")
    page.wait(lambda: "facts" in page.find("#train-data textarea").get_attribute("value"))
    page.click("train-check")
    page.wait(lambda: "36 valid" in page.text("train-report"))
    assert "assistant: Zorblax Industries was founded in 1847." in page.text("train-preview")
    for field, value in (("max-steps", 3), ("batch-size", 2), ("max-length", 64), ("lora-r", 4)):
        page.type(f"train-{field}", str(value))
    page.click("train-start")
    page.wait(lambda: "logged steps" in page.text("train-status"))
    page.wait(
        lambda: int(re.search(r"(\d+) logged steps", page.text("train-status"))[1]) >= 2,
        timeout=600,
    )
    page.wait(lambda: page.find("#train-loss canvas, #train-loss svg"))
    page.shot("train")
    run_id = page.text("train-status").split(":")[0].strip()
    metrics = (ui_home / "runs" / run_id / "metrics.jsonl").read_text().splitlines()
    assert len([json.loads(m) for m in metrics if '"loss"' in m]) >= 2


def test_the_finished_run_exports_to_gguf_with_its_parity_table(page, ui_home):
    page.tab("Train")
    page.wait(lambda: "finished" in page.text("train-status"), timeout=600)
    run_id = page.text("train-status").split(":")[0].strip()
    page.type("export-name", "smollm2")  # taken (the built-in): one line, no job
    page.click("export-start")
    page.wait(lambda: any("already exists" in e for e in page.errors()))
    assert not any("Traceback" in e for e in page.errors())
    page.type("export-name", "tiny-export")
    page.choose("export-quant", "q8_0")
    page.click("export-start")
    page.wait(lambda: _job_done(page, "export"), timeout=600)
    page.wait(lambda: "q8_0" in page.text("export-parity"))
    cells = page.text("export-parity").splitlines()  # one cell a line
    assert {"f16", "q8_0", "pass"} <= set(cells) and any(c.endswith("/4") for c in cells), cells
    assert "parity against the trained model" in page.text("export-status")
    page.shot("train-export")
    saved = json.loads((ui_home / "runs" / run_id / "exports" / "tiny-export.json").read_text())
    assert [r["variant"] for r in saved["rows"]] == ["f16", "q8_0"]
    page.tab("Models")  # the table was read again when the export job ended
    page.wait(lambda: "tiny-export" in page.text("models-table"))
    assert "Q8_0" in page.text("models-table")


def test_the_finished_run_exports_its_adapter_alone(page, ui_home):
    page.tab("Train")
    page.wait(lambda: "finished" in page.text("train-status"), timeout=600)
    page.type("export-name", "tiny-adapter")
    page.choose("export-quant", NO_QUANT)
    page.click("export-adapter")
    page.click("export-start")
    page.wait(lambda: "tiny-adapter" in page.text("export-status"))
    page.wait(lambda: _job_done(page, "export"), timeout=600)
    page.wait(lambda: "smollm2 + adapter" in page.text("export-parity"))
    assert "exported tiny-adapter (adapter)" in page.text("export-status")
    manifest = json.loads((ui_home / "models" / "tiny-adapter" / "manifest.json").read_text())
    assert manifest["adapters"] and manifest["parent"] == "smollm2"


def test_a_restarted_page_shows_the_runs_last_export(tmp_path):
    """A page process of its own, with no export job to follow, shows the newest report
    saved in the run folder (its own home: it does not lean on the exports above)."""
    import os

    from danlu.config import Settings
    from danlu.export.parity import ParityReport, ParityRow
    from danlu.export.register import write_report
    from danlu.ui.context import UIContext, UISettings
    from danlu.ui.export_panel import ExportActions

    settings = Settings(home=tmp_path)
    run_dir = settings.runs_dir / "r1"
    run_dir.mkdir(parents=True)
    for age, (name, variants) in enumerate(
        [("newer", ["f16 base + adapter", "smollm2 + adapter"]), ("older", ["f16"])]
    ):
        report = ParityReport("the trained model (transformers)", 24)
        for variant in variants:
            report.add(ParityRow(variant, 1000, greedy=4, prompts=4, top1=1.0, ll=-0.5))
        path = write_report(run_dir, name, report)
        os.utime(path, (1e9 - age, 1e9 - age))  # "older" was written first
    ctx = UIContext.create(UISettings(open_browser=False), settings)
    try:
        status, rows = ExportActions(ctx).follow("r1")
    finally:
        ctx.close()
    assert "r1 → newer" in status and "exported earlier" in status
    assert "parity against the trained model (transformers)" in status
    assert [row[0] for row in rows] == ["f16 base + adapter", "smollm2 + adapter"], rows


def _picked_run(page) -> str:
    return page.find("#train-run input").get_attribute("value") or ""


def _logged_steps(page, run_id: str) -> int:
    """The steps the status line reports for `run_id` (0 while it shows another run's line:
    a timer tick already under way when Start picked the new run still answers for the old)."""
    found = re.search(rf"{re.escape(run_id)}: \w+, (\d+) logged steps", page.text("train-status"))
    return int(found[1]) if found else 0


# enough steps that Stop, clicked once 3 are logged, lands before the run ends (a step
# takes a second or more here), few enough that the run is short
STOPPED_STEPS = 12


def test_a_stopped_run_resumes_from_its_checkpoint(page, data_dir, ui_home):
    page.tab("Train")
    page.type("train-data", str(data_dir / "train" / "facts.jsonl"))
    fields = (("max-steps", STOPPED_STEPS), ("batch-size", 2), ("max-length", 64), ("lora-r", 4))
    for field, value in (*fields, ("save-steps", 2)):
        page.type(f"train-{field}", str(value))
    before = _picked_run(page)
    page.click("train-start")
    page.wait(lambda: _picked_run(page) not in ("", before))  # Start picks the new run
    run_id = _picked_run(page)
    page.wait(lambda: _logged_steps(page, run_id) >= 3, timeout=600)  # checkpoint-2 is written
    page.click("train-stop")
    page.wait(lambda: f"{run_id}: interrupted" in page.text("train-status"), timeout=120)
    run_dir = ui_home / "runs" / run_id
    assert read_record(run_dir).status == "interrupted"
    checkpoint = last_checkpoint(run_dir)
    assert checkpoint is not None and 2 <= int(checkpoint.name.split("-")[-1]) < STOPPED_STEPS
    page.click("train-resume")
    page.wait(lambda: f"{run_id}: finished" in page.text("train-status"), timeout=600)
    rows = [json.loads(m) for m in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if "loss" in r]
    assert steps == sorted(set(steps)) and steps[-1] == STOPPED_STEPS  # on from the checkpoint


def test_a_dpo_run_is_started_from_the_form(page, data_dir, ui_home):
    page.tab("Train")
    page.pick_radio("train-stage", "dpo")
    epochs = page.find("#train-epochs input")
    page.wait(lambda: epochs.get_attribute("value") in ("1", "1.0"))  # DPO's own default
    page.wait(lambda: page.find("#train-dpo-options").is_displayed())  # DPO's own settings
    hidden = page.driver.find_elements("css selector", "#train-sft-options")
    assert not any(e.is_displayed() for e in hidden)  # gradio leaves a hidden row out
    try:
        page.type("train-data", str(data_dir / "train" / "prefs.jsonl"))
        fields = (("max-steps", 2), ("batch-size", 2), ("max-length", 64), ("lora-r", 4))
        for field, value in (*fields, ("dpo-beta", 0.25)):
            page.type(f"train-{field}", str(value))
        page.pick_radio("train-dpo-loss-type", "ipo")
        before = _picked_run(page)
        page.click("train-start")
        page.wait(lambda: _picked_run(page) not in ("", before))
        run_id = _picked_run(page)
        assert "-dpo-" in run_id
        page.wait(lambda: f"{run_id}: finished" in page.text("train-status"), timeout=600)
        record = read_record(ui_home / "runs" / run_id)
        assert record.stage == "dpo"
        assert (record.settings["beta"], record.settings["loss_type"]) == (0.25, "ipo")
    finally:
        page.pick_radio("train-stage", "sft")


def test_a_tiny_evaluation_shows_its_table(page, data_dir):
    page.tab("Evaluate")
    page.upload("eval-upload", data_dir / "eval" / "mc.jsonl")
    page.wait(lambda: "mc" in page.find("#eval-data textarea").get_attribute("value"))
    page.click("eval-run")
    page.wait(lambda: _job_done(page, "eval"), timeout=600)
    page.wait(lambda: "n=5" in page.text("eval-table"))
    assert "smollm2" in page.text("eval-table")  # the row of the model evaluated
    page.wait(lambda: page.find("#eval-chart img"))
    page.shot("evaluate")


def test_a_model_is_benched_from_the_page(page):
    page.tab("Evaluate")
    page.open_accordion("bench-panel", "#bench-target input, #bench-target textarea")
    page.type("bench-target", "smollm2")
    for field, value in (("prompt", 8), ("gen", 4), ("reps", 1)):
        page.type(f"bench-{field}", str(value))
    page.click("bench-run")
    page.wait(lambda: _job_done(page, "bench"), timeout=600)
    page.wait(lambda: "| smollm2 |" in page.text("bench-output"))
    assert "pp8" in page.text("bench-output") and "tg4" in page.text("bench-output")

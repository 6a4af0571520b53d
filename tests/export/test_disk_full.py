"""An export onto a full disk: one line naming the store's folder and the space, nothing
registered, nothing half-written, and no library output around it (a real tmpfs, filled)."""

from __future__ import annotations

import pytest

from danlu.train.runs import read_record
from tests.train.small_disk import on_small_disk


@pytest.mark.slow
def test_an_export_onto_a_full_disk_is_one_line_and_leaves_nothing(export_settings, lora_run):
    models = export_settings.models_dir  # the store on 60 MB; the merged float32 model ~540 MB
    args = ["export", lora_run.id, "--name", "too-big", "--quant", "q8_0"]
    outcome = on_small_disk(models, 60, args, export_settings.home)
    assert outcome.code == 1
    # one line: no traceback, and no "Loading weights" bar or FutureWarning before it
    assert outcome.err.startswith("error: ") and len(outcome.err.splitlines()) == 1
    assert f"the disk under {models} is full" in outcome.err
    assert "MB free, about " in outcome.err and "needed" in outcome.err
    assert not any("too-big" in entry for entry in outcome.left)  # no model, no staging
    assert read_record(lora_run.run_dir).status == "finished"  # the run is untouched
    assert not (lora_run.run_dir / "exports" / "too-big.json").exists()

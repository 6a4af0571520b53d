"""The parity gate (docs/export.md): an f16 export that misses the thresholds is not
registered, its table is still written to the run folder, and --allow-mismatch registers
it anyway. Thresholds no export can reach (top-1 agreement above 100%) stand for a
broken conversion."""

from __future__ import annotations

import json

import pytest

from danlu.errors import ModelNotFound
from danlu.export.errors import ParityFailed
from danlu.export.parity import Thresholds
from danlu.export.run import ExportOptions, export_run
from danlu.store import Catalog

UNREACHABLE = Thresholds(min_top1=1.01)


@pytest.mark.slow
def test_a_failed_parity_check_registers_nothing_and_keeps_the_report(export_settings, lora_run):
    options = ExportOptions(name="gate-refused", thresholds=UNREACHABLE)
    with pytest.raises(ParityFailed) as refused:
        export_run(lora_run.id, options, export_settings)
    assert refused.value.message.startswith("PARITY FAILED: the f16 export agrees")
    assert "not registered" in refused.value.message and "--allow-mismatch" in refused.value.hint
    with pytest.raises(ModelNotFound):
        Catalog(export_settings).get("gate-refused")
    report = json.loads((lora_run.run_dir / "exports" / "gate-refused.json").read_text())
    (row,) = report["rows"]
    assert row["variant"] == "f16" and row["passed"] is False
    assert not (export_settings.models_dir / "gate-refused").exists()  # no staged leftovers

    allowed = ExportOptions(name="gate-allowed", thresholds=UNREACHABLE, allow_mismatch=True)
    result = export_run(lora_run.id, allowed, export_settings)
    assert result.report.rows[0].passed is False
    assert Catalog(export_settings).get("gate-allowed").source == f"run:{lora_run.id}"

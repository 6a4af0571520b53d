"""An export or a quantization killed with SIGKILL leaves no model, and its staging folder
is swept by the next write to the store (or the next start of danlu on it).

The child kills itself from its own step callback, after the big files were written
into the staging folder: a real SIGKILL at a known point, so the test cannot flake.
"""

from __future__ import annotations

import os

import pytest

from danlu.config import Settings
from danlu.store import Catalog
from tests.store.test_store_sweep import run_killed

KILL_AT_STEP = """
import os, signal, sys
from danlu.config import Settings

def steps(label, done, total):
    if label.startswith(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)

if sys.argv[2] == "export":
    from danlu.export.run import ExportOptions, export_run
    export_run(sys.argv[3], ExportOptions(name="killed", quant="q8_0"), Settings(), steps)
else:
    from danlu.export.requant import quantize_model
    quantize_model("smollm2", "q8_0", "killed", Settings(), steps=steps)
"""


def leftovers(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.models_dir.iterdir() if "killed" in p.name)


def killed(settings: Settings, *args: str) -> list[str]:
    env = {**os.environ, "DANLU_HOME": str(settings.home)}
    run_killed(KILL_AT_STEP, *args, env=env)
    left = leftovers(settings)
    Catalog(settings).list()  # danlu starting on the store sweeps what the dead left
    return left


@pytest.mark.slow
def test_an_export_killed_after_writing_its_gguf_leaves_nothing(export_settings, lora_run):
    left = killed(export_settings, "checking parity", "export", lora_run.id)
    assert len(left) == 1 and left[0].startswith(".staging-killed@")
    assert leftovers(export_settings) == []


def test_a_quantization_killed_after_writing_leaves_nothing(danlu_home):
    settings = Settings(home=danlu_home)
    left = killed(settings, "measuring", "quantize")
    assert len(left) == 1 and left[0].startswith(".staging-killed@")
    assert leftovers(settings) == []

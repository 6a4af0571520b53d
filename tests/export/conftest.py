"""Export fixtures: one short LoRA run and one export of it per session, in one home.

The run trains a few steps only: parity needs a real adapter over the real SmolLM2, not
a good one. Each test that writes to the store gets that home through `export_home`
(DANLU_HOME pointed at it), and names its own models.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from danlu.config import Settings
from tests.cli.conftest import danlu as cli  # noqa: F401 -- the in-process CLI fixture
from tests.train.conftest import DATA, base_cache  # noqa: F401 -- the session's dequantized base

FEW_STEPS = {
    "max_steps": 4,
    "batch_size": 4,
    "learning_rate": 1e-3,
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "max_length": 96,
    "save_steps": 1000,
}
QUANT = "q4_k_m"


@pytest.fixture(scope="session")
def export_settings(tmp_path_factory: pytest.TempPathFactory, base_cache: Path) -> Settings:  # noqa: F811
    home = tmp_path_factory.mktemp("export-home")
    (home / "cache").symlink_to(base_cache, target_is_directory=True)
    return Settings(home=home)


@pytest.fixture(scope="session")
def lora_run(export_settings: Settings):
    from danlu.train import SFTSettings, sft

    return sft(SFTSettings(data=str(DATA / "facts.jsonl"), **FEW_STEPS), export_settings)


@pytest.fixture(scope="session")
def exported(export_settings: Settings, lora_run):
    """The run exported once, quantized to QUANT, as model 'faq-bot'."""
    from danlu.export.run import ExportOptions, export_run

    options = ExportOptions(name="faq-bot", quant=QUANT)
    return export_run(lora_run.id, options, export_settings)


@pytest.fixture
def export_home(export_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DANLU_HOME", str(export_settings.home))
    return export_settings


@pytest.fixture(scope="session")
def adapter_export(export_settings: Settings, lora_run):
    """The same run as a GGUF adapter over the store's smollm2, as model 'faq-lora'."""
    from danlu.export.run import ExportOptions, export_run

    options = ExportOptions(name="faq-lora", adapter_only=True)
    return export_run(lora_run.id, options, export_settings)

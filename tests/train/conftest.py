"""Training fixtures: the embedded SmolLM2 dequantized once per session, shared by tests.

Each test still gets its own DANLU_HOME (tests/conftest.py); `home` links that home's
cache/ to the session's, so no test converts the GGUF model again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from danlu.config import Settings

DATA = Path(__file__).parent.parent / "data" / "train"


@pytest.fixture(scope="session")
def base_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DANLU_HOME/cache of a session home, holding the dequantized SmolLM2."""
    from danlu.train.base import dequantize, find_base

    shared = tmp_path_factory.mktemp("train-home")
    dequantize(find_base("smollm2", Settings(home=shared)))
    return shared / "cache"


@pytest.fixture
def home(danlu_home: Path, base_cache: Path) -> Settings:
    """This test's DANLU_HOME, with the session's dequantized base model in its cache."""
    danlu_home.mkdir(parents=True, exist_ok=True)
    (danlu_home / "cache").symlink_to(base_cache, target_is_directory=True)
    return Settings(home=danlu_home)


@pytest.fixture(scope="session")
def tokenizer(base_cache: Path):
    from danlu.train.base import load_tokenizer

    (folder,) = (base_cache / "dequantized").iterdir()
    return load_tokenizer(folder)


@pytest.fixture(scope="session")
def engine(base_cache: Path):
    """The dequantized SmolLM2 folder on the transformers backend (n_ctx 256), loaded once."""
    from danlu.engine.base import LoadOptions
    from danlu.engine.registry import open_engine

    (folder,) = (base_cache / "dequantized").iterdir()
    loaded = open_engine("transformers", folder / "model.safetensors", LoadOptions(n_ctx=256))
    yield loaded
    loaded.close()

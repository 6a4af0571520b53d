"""The embedder registry: specs, the GGUF path through danlu's own engine, bad specs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import danlu.kb
from danlu.config import Settings
from danlu.errors import InvalidRequest
from danlu.kb.embedders import open_embedder


def test_the_default_embedder_is_the_bundled_minilm(embedder):
    assert (embedder.name, embedder.dimension) == ("minilm", 384)
    vectors = embedder.embed(["tea", "茶"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


def test_a_gguf_model_embeds_through_the_engine(danlu_home: Path, tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.md").write_text("Green tea is steeped at 80 degrees for two minutes.")
    (docs / "bikes.md").write_text("Bicycle tyres are pumped to four bar every month.")
    settings = Settings(home=danlu_home)
    with danlu.kb.create("g", settings=settings, embedder="gguf:smollm2") as kb:
        assert kb.info().embedder == "gguf:smollm2" and kb.dimension == 576
        assert len(kb.add([docs]).added) == 2
        (hit,) = kb.search("Green tea is steeped at 80 degrees", k=1, mode="dense")
        assert hit.chunk.path.endswith("tea.md") and hit.similarity > 0.9


@pytest.mark.parametrize("spec", ["nope:x", "openai:not-a-url", "st:"])
def test_bad_specs_say_what_is_wrong(spec):
    with pytest.raises(InvalidRequest):
        open_embedder(spec)

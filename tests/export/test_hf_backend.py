"""A Hugging Face folder imported into the store runs through the transformers backend,
and for a model held in both formats its greedy tokens agree with llama.cpp's."""

from __future__ import annotations

from pathlib import Path

import pytest

import danlu
from danlu.config import Settings
from danlu.engine.base import Completion
from danlu.export.convert import convert

PROMPT = [{"role": "user", "content": "Name a planet."}]


@pytest.fixture(scope="module")
def both_formats(base_cache: Path, tmp_path_factory) -> tuple[Path, Path]:
    """The dequantized SmolLM2 as an HF folder, and the same weights as an f16 GGUF."""
    (folder,) = (base_cache / "dequantized").iterdir()
    gguf = convert(folder, tmp_path_factory.mktemp("f16") / "smollm2-f16.gguf")
    return folder, gguf


@pytest.mark.slow
def test_an_imported_hf_folder_agrees_with_llama_cpp(both_formats, cli, danlu_home):
    folder, gguf = both_formats
    assert cli("import", str(folder), "--name", "smol-hf").code == 0
    assert cli("import", str(gguf), "--name", "smol-f16").code == 0
    settings = Settings(home=danlu_home)
    runs = {}
    for name in ("smol-hf", "smol-f16"):
        with danlu.load(name, settings=settings, n_ctx=256) as model:
            prompt = model.prepare_chat(PROMPT, temperature=0, max_tokens=12, seed=0)
            runs[name] = (model.engine.__class__.__name__, prompt.tokens)
            runs[name] += (Completion.collect(model.stream(prompt)).token_ids,)
    assert runs["smol-hf"][0] == "TransformersEngine"
    assert runs["smol-f16"][0] == "LlamaCppEngine"
    assert runs["smol-hf"][1] == runs["smol-f16"][1]  # one tokenization of the prompt
    assert runs["smol-hf"][2] == runs["smol-f16"][2] and len(runs["smol-hf"][2]) > 0
    ran = cli("run", "smol-hf", "Name a planet.", "--temp", "0", "-n", "12")
    assert ran.code == 0 and ran.out.strip()

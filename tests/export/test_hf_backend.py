"""A Hugging Face folder imported into the store runs through the transformers backend,
and for a model held in both formats its greedy tokens agree with llama.cpp's."""

from __future__ import annotations

import warnings
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
    (folder,) = [p for p in (base_cache / "dequantized").iterdir() if p.is_dir()]
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


@pytest.mark.slow
def test_both_engines_count_completion_tokens_alike(both_formats, cli, danlu_home):
    """An answer that ends by itself: the end token is not a completion token in either
    engine (usage and timing count the tokens returned); its logprob comes last in both."""
    folder, gguf = both_formats
    assert cli("import", str(folder), "--name", "smol-hf").code == 0
    assert cli("import", str(gguf), "--name", "smol-f16").code == 0
    settings = Settings(home=danlu_home)
    short = [{"role": "user", "content": "What is 2+2? Answer with a number."}]
    runs = {}
    for name in ("smol-hf", "smol-f16"):
        with danlu.load(name, settings=settings, n_ctx=256) as model:
            prompt = model.prepare_chat(short, temperature=0, max_tokens=32, logprobs=1)
            chunks = list(model.stream(prompt))
            eos = model.engine.tokenize(model.engine.special_tokens()[1], special=True)
            runs[name] = (Completion.collect(chunks), chunks[-1].logprobs, eos)
    for result, last, eos in runs.values():
        assert result.finish_reason == "stop" and 0 < len(result.token_ids) < 32
        assert result.usage.completion_tokens == len(result.token_ids)
        assert result.timing.completion_tokens == result.usage.completion_tokens
        assert [lp.token for lp in last] == eos and eos[0] not in result.token_ids
    hf, gg = runs["smol-hf"][0], runs["smol-f16"][0]
    assert hf.token_ids == gg.token_ids and hf.usage == gg.usage


@pytest.mark.slow
def test_chatting_with_a_run_shows_no_library_bars_or_warnings(lora_run, export_home, cli):
    """`danlu run runs/RUN` loads the base and the adapter through transformers and peft,
    whose "Loading weights" bars and FutureWarnings stay off the terminal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ran = cli("run", str(lora_run.run_dir), "Hi", "--temp", "0", "-n", "4")
    assert ran.code == 0 and ran.out.strip()
    assert ran.err == ""
    assert [str(w.message) for w in caught] == []

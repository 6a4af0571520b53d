"""The transformers backend: the dequantized SmolLM2 folder behind the Engine protocol."""

from __future__ import annotations

import pytest

from danlu.engine.base import Completion, Engine
from danlu.engine.sampling import SamplingParams
from danlu.errors import InvalidParameter, InvalidRequest


def test_it_is_an_engine_with_the_models_facts(engine):
    assert isinstance(engine, Engine)
    assert engine.n_ctx == 256 and engine.n_vocab == 49152
    assert engine.special_tokens() == ("<|im_start|>", "<|im_end|>")
    assert engine.metadata["model_type"] == "llama"


def test_tokens_round_trip_with_the_llama_cpp_ids(engine, model):
    text = "<|im_start|>user\nCafé déjà vu — 丹炉 🔥<|im_end|>"
    ids = engine.tokenize(text)
    assert ids == model.engine.tokenize(text)  # the GGUF's own tokenizer, through llama.cpp
    plain = "Café déjà vu — 丹炉 🔥"
    assert engine.detokenize(engine.tokenize(plain)) == plain
    with pytest.raises(InvalidParameter, match="outside this model's vocabulary"):
        engine.detokenize([49152])


def test_greedy_stream_matches_transformers_generate(engine):
    import torch

    prompt = engine.tokenize("<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n")
    params = SamplingParams(temperature=0, max_tokens=8)
    done = Completion.collect(engine.stream(prompt, params))
    with torch.inference_mode():
        out = engine._model.generate(torch.tensor([prompt]), max_new_tokens=8, do_sample=False)
    expected = out[0][len(prompt) :].tolist()
    assert list(done.token_ids) == [t for t in expected if t != 2][: len(done.token_ids)]
    assert done.usage.prompt_tokens == len(prompt)


def test_seeded_sampling_repeats_and_stop_strings_cut(engine):
    prompt = engine.tokenize("Once upon a time")
    params = SamplingParams(temperature=1.0, seed=7, max_tokens=12)
    first = Completion.collect(engine.stream(prompt, params)).text
    assert first == Completion.collect(engine.stream(prompt, params)).text
    cut = first.strip().split(" ")[0][:2]
    stopped = Completion.collect(engine.stream(prompt, params.model_copy(update={"stop": (cut,)})))
    assert cut not in stopped.text and stopped.finish_reason == "stop"


def test_scoring_embedding_and_refusals(engine):
    context, continuation = engine.tokenize("The sky is"), engine.tokenize(" blue")
    scored = engine.loglikelihood(context, continuation, top=3)
    assert scored.logprob < 0 and len(scored.alternatives[0]) == 3
    (vector,) = engine.embed([context])
    assert abs(sum(v * v for v in vector) - 1) < 1e-4
    with pytest.raises(InvalidRequest, match=r"llama\.cpp backend"):
        list(engine.stream(context, SamplingParams(grammar='root ::= "a"')))
    with pytest.raises(InvalidParameter):
        list(engine.stream([0, 99999], SamplingParams()))

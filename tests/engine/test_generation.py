"""Generation on the real SmolLM2: determinism, seeds, stops, lengths and counts."""

from __future__ import annotations

import pytest

from danlu import Completion, ContextOverflow, InvalidParameter

QUESTION = [{"role": "user", "content": "Write a short poem about the sea."}]


def test_greedy_is_deterministic_with_and_without_prefix_cache(model):
    first = model.chat(QUESTION, temperature=0, max_tokens=40)
    second = model.chat(QUESTION, temperature=0, max_tokens=40)
    assert second.usage.cached_tokens > 0  # the second run reused the prompt's KV cache
    model.engine.reset()
    fresh = model.chat(QUESTION, temperature=0, max_tokens=40)
    assert fresh.usage.cached_tokens == 0
    assert first.text == second.text == fresh.text
    assert first.token_ids == second.token_ids == fresh.token_ids
    assert len(first.text) > 10


def test_plain_greedy_picks_what_llama_cpps_greedy_chain_picks(model):
    """Plain greedy reads the argmax straight from the logits (native.ArgmaxSampler); a
    logit bias of 0 changes nothing but forces llama.cpp's own sampler chain."""
    from danlu.engine.llamacpp.native import plain_greedy
    from danlu.engine.sampling import SamplingParams

    assert plain_greedy(SamplingParams(temperature=0))
    assert not plain_greedy(SamplingParams(temperature=0, logit_bias={7: 0.0}))
    fast = model.chat(QUESTION, temperature=0, max_tokens=48)
    chain = model.chat(QUESTION, temperature=0, max_tokens=48, logit_bias={7: 0.0})
    assert len(fast.token_ids) > 20
    assert fast.token_ids == chain.token_ids


def test_same_seed_reproduces_and_other_seeds_differ(model):
    params = {"temperature": 1.2, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "max_tokens": 30}
    a = model.chat(QUESTION, seed=7, **params)
    b = model.chat(QUESTION, seed=7, **params)
    others = {model.chat(QUESTION, seed=s, **params).text for s in (8, 9, 10)}
    assert a.text == b.text and a.token_ids == b.token_ids
    assert len(others | {a.text}) > 1


def test_max_tokens_ends_with_length(model):
    result = model.chat(QUESTION, temperature=0, max_tokens=5)
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == 5
    assert len(result.token_ids) == 5


def test_stop_sequence_cuts_text_and_reports_stop(model):
    full = model.chat(QUESTION, temperature=0, max_tokens=40).text
    words = full.split()
    stop = words[3]  # a word the greedy answer is known to contain
    cut = model.chat(QUESTION, temperature=0, max_tokens=40, stop=[stop])
    assert cut.finish_reason == "stop"
    assert stop not in cut.text
    assert full.startswith(cut.text)
    assert len(cut.token_ids) < 40


def test_end_of_generation_token_finishes_with_stop(model):
    result = model.chat([{"role": "user", "content": "Say hi."}], temperature=0, max_tokens=200)
    assert result.finish_reason == "stop"
    assert result.usage.completion_tokens < 200


def test_token_counts_add_up(model):
    prompt_text = model.render(QUESTION)
    result = model.chat(QUESTION, temperature=0, max_tokens=12)
    assert result.usage.prompt_tokens == len(model.engine.tokenize(prompt_text, add_bos=True))
    assert result.usage.completion_tokens == len(result.token_ids) == 12
    assert result.usage.total_tokens == result.usage.prompt_tokens + 12
    assert model.detokenize(result.token_ids) == result.text
    assert result.timing.completion_tokens == 12


def test_streaming_matches_the_collected_result(model):
    chunks = list(model.stream_chat(QUESTION, temperature=0, max_tokens=20))
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert chunks[-1].finish_reason == "length"
    assert sum(len(c.token_ids) for c in chunks) == 20
    whole = Completion.collect(chunks)
    assert whole.text == model.chat(QUESTION, temperature=0, max_tokens=20).text


def test_raw_generate_continues_a_prompt(model):
    result = model.generate("1, 2, 3, 4,", temperature=0, max_tokens=6)
    assert result.text.startswith(" 5")


def test_prompt_longer_than_context_is_refused(model):
    long_text = "word " * (model.n_ctx + 10)
    with pytest.raises(ContextOverflow, match="tokens but the context holds"):
        model.generate(long_text, max_tokens=1)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stop": [""]}, "stop"),
        ({"bogus": 1}, "unknown parameter 'bogus'"),
    ],
)
def test_invalid_parameters_are_rejected_with_the_field_named(model, params, message):
    with pytest.raises(InvalidParameter, match=message):
        model.chat(QUESTION, **params)

"""Engine knobs (LoadOptions): each reaches llama.cpp, read back from its own log;
bad values are one clear InvalidParameter before anything loads."""

from __future__ import annotations

import ctypes
from pathlib import Path

import llama_cpp
import pytest

import danlu
from danlu import InvalidParameter
from danlu.config import Settings
from danlu.engine.base import LoadOptions
from danlu.engine.llamacpp import LlamaCppEngine, native
from danlu.engine.llamacpp.machine import REPACK_OFF_AMX, REPACK_ON, repack_rule
from danlu.engine.sampling import SamplingParams
from danlu.export.quantize import quantize
from danlu.model import _within_trained_context
from danlu.server.settings import ServerSettings
from danlu.store import Manifest
from danlu.system import parse_cpuinfo
from tests.conftest import smollm2_path

QUESTION = [{"role": "user", "content": "Write a short poem about the sea."}]


@pytest.fixture(scope="module")
def fa_model(tmp_path_factory: pytest.TempPathFactory):
    """SmolLM2 as the session `model` (2048 context, 2 threads) but with flash attention on
    and a q8_0 KV cache, a micro-batch of 128 and one prompt thread."""
    settings = Settings(home=tmp_path_factory.mktemp("fa-home"), n_ctx=2048)
    options = {"flash_attn": "on", "cache_type_k": "q8_0", "cache_type_v": "q8_0"}
    with danlu.load(
        "smollm2", settings=settings, threads=2, n_ubatch=128, threads_batch=1, **options
    ) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def q4_0_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2 requantized to Q4_0, a type llama.cpp repacks on x86 (CPU_REPACK, or AMX)."""
    return quantize(smollm2_path(), tmp_path_factory.mktemp("q4_0") / "q4_0.gguf", "q4_0")


def test_defaults_reach_llama_cpp(model):
    facts = model.engine_facts
    assert facts["flash_attn_asked"] == "auto"  # llama.cpp's own default, as llama-server's
    assert facts["flash_attn"] == "on"  # read back from llama.cpp's context log: CPU has it
    assert (facts["cache_type_k"], facts["cache_type_v"]) == ("f16", "f16")
    assert facts["n_batch"] == facts["n_ubatch"] == "512"


def test_flash_attn_kv_types_and_batches_reach_llama_cpp(fa_model):
    facts = fa_model.engine_facts
    assert facts["flash_attn"] == "on"
    assert (facts["cache_type_k"], facts["cache_type_v"]) == ("q8_0", "q8_0")
    assert (facts["n_ubatch"], facts["threads"], facts["threads_batch"]) == ("128", "2", "1")
    assert fa_model.chat(QUESTION, temperature=0, max_tokens=8).usage.completion_tokens == 8


@pytest.mark.parametrize("repack", [True, False])
def test_repack_forced_on_or_off_is_read_back_from_llama_cpps_log(q4_0_file, repack):
    engine = LlamaCppEngine(q4_0_file, LoadOptions.build(n_ctx=64, repack=repack))
    try:
        facts = engine.facts
    finally:
        engine.close()  # no decode: on a CPU with AMX a repacked matmul would crash
    buffers = facts["weight_buffers"]
    assert facts["repack"] == ("on" if repack else "off")
    if repack:  # 'CPU_REPACK model buffer' or 'AMX model buffer' in llama.cpp's log
        assert facts["repacked"] in ("CPU_REPACK", "AMX", "AMX, CPU_REPACK", "CPU_REPACK, AMX")
        assert "REPACK" in buffers or "AMX" in buffers
    else:
        assert facts["repacked"] == "none" and "REPACK" not in buffers and "AMX" not in buffers


def test_the_amx_rule_turns_repack_off_and_says_why():
    plain = parse_cpuinfo("model name\t: AMD EPYC\nflags\t\t: fpu avx2 fma\n", 2)
    amx = parse_cpuinfo("model name\t: Intel Xeon\nflags\t\t: avx512f amx_tile amx_int8\n", 2)
    assert repack_rule(plain, {"AVX2": "1"}) == (True, REPACK_ON)
    assert repack_rule(amx, {"AVX2": "1"}) == (False, REPACK_OFF_AMX)
    assert repack_rule(plain, {"AMX_INT8": "1"})[0] is False  # a build with AMX kernels
    assert "#20824" in REPACK_OFF_AMX and amx.has_amx and not plain.has_amx


def test_auto_flash_attn_reports_what_llama_cpp_chose(tmp_path):
    settings = Settings(home=tmp_path, n_ctx=256)
    with danlu.load("smollm2", settings=settings, threads=2, flash_attn="auto") as loaded:
        assert loaded.engine_facts["flash_attn_asked"] == "auto"
        # resolved by llama.cpp, read back from its log: on a CPU backend auto turns it on
        assert loaded.engine_facts["flash_attn"] == "on"


def test_flash_attn_moves_logprobs_only_at_near_ties(model, fa_model, tmp_path):
    """How far flash attention (and a q8_0 KV cache) may move the output: the same 24
    tokens scored teacher-forced with it off and on. It changes the order of float sums,
    as a different batch shape does, so greedy output can part where the two likeliest
    tokens are within a few hundredths of a nat (here at the 5th token: 0.07 apart). Each
    token's logprob moves by less than 0.35 nats, and the top pick only changes where the
    two likeliest are within 0.3 nats (0.21 seen)."""
    prompt = model.prepare_chat(QUESTION).tokens
    settings = Settings(home=tmp_path, n_ctx=2048)
    with danlu.load("smollm2", settings=settings, threads=2, flash_attn="off") as fa_off:
        tokens = list(fa_off.chat(QUESTION, temperature=0, max_tokens=24).token_ids)
        off = fa_off.engine.loglikelihood(prompt, tokens, top=2)
    assert model.engine_facts["flash_attn"] == "on"  # the session model: auto, resolved on
    model.engine.reset()
    scored = [model.engine.loglikelihood(prompt, tokens, top=2)]
    scored.append(fa_model.engine.loglikelihood(prompt, tokens, top=2))
    for on in scored:
        moves = [abs(a - b) for a, b in zip(on.token_logprobs, off.token_logprobs, strict=True)]
        assert max(moves) < 0.35 and abs(on.logprob - off.logprob) < 1.5
        for ranked_on, ranked_off in zip(on.alternatives, off.alternatives, strict=True):
            if ranked_on[0][0] != ranked_off[0][0]:  # the pick changed: a near-tie in both
                assert ranked_off[0][1] - ranked_off[1][1] < 0.3
                assert ranked_on[0][1] - ranked_on[1][1] < 0.3


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cache_type_k": "q3"}, "invalid cache_type_k='q3'"),
        ({"n_batch": -1}, "invalid n_batch=-1"),
        ({"n_batch": 64, "n_ubatch": 128}, "n_ubatch 128 is larger than n_batch 64"),
        ({"cache_type_v": "q4_0", "flash_attn": "off"}, "q4_0 V cache needs flash attention"),
        ({"flash_attn": "maybe"}, "invalid flash_attn='maybe'"),
        ({"rope_scale": 0}, "invalid rope_scale=0"),
    ],
)
def test_bad_values_are_one_clear_error(fields, message):
    with pytest.raises(InvalidParameter) as caught:
        LoadOptions.build(**fields)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_refuses_a_bad_knob_before_loading(tmp_path):
    with pytest.raises(InvalidParameter, match="cache_type_k"):
        danlu.load("smollm2", settings=Settings(home=tmp_path), cache_type_k="q3")
    with pytest.raises(InvalidParameter, match="unknown parameter 'flash'"):
        danlu.load("smollm2", settings=Settings(home=tmp_path), flash="on")


def test_rope_scaling_allows_a_longer_context_than_trained():
    manifest = Manifest.model_construct(name="m", context_length=2048)
    plain = LoadOptions.build(n_ctx=4096)
    with pytest.raises(InvalidParameter, match="larger than the 2048 tokens") as caught:
        _within_trained_context(plain, manifest, asked=True)
    assert "--rope-scale" in str(caught.value.hint)
    scaled = LoadOptions.build(n_ctx=4096, rope_scaling="linear", rope_scale=2)
    assert _within_trained_context(scaled, manifest, asked=True).n_ctx == 4096
    params = native.context_params(scaled, n_ctx=4096, n_seq=1, embeddings=False)
    assert params.rope_scaling_type == llama_cpp.LLAMA_ROPE_SCALING_TYPE_LINEAR
    assert params.rope_freq_scale == pytest.approx(0.5)


def test_server_settings_carry_the_knobs():
    settings = ServerSettings.build(None, flash_attn="on", cache_type_k="q8_0", mmap=False)
    assert settings.engine_options() == {"flash_attn": "on", "cache_type_k": "q8_0", "mmap": False}
    with pytest.raises(InvalidParameter, match="cache_type_v"):
        ServerSettings.build(None, cache_type_v="q9")


def _candidates(n_vocab: int):
    """A token-data array in id order with every logit 1.0, as llama.cpp builds one."""
    data = (llama_cpp.llama_token_data * n_vocab)()
    for i in range(n_vocab):
        data[i].id, data[i].logit, data[i].p = i, 1.0, 0.0
    array = llama_cpp.llama_token_data_array(data, n_vocab, -1, False)
    return data, array


@pytest.mark.parametrize("penalize_nl", [True, False])
def test_no_penalize_nl_keeps_the_newline_logit(model, penalize_nl):
    engine = model.engine
    nl = llama_cpp.llama_vocab_nl(engine._model.vocab)
    params = SamplingParams(temperature=0, repeat_penalty=4.0, penalize_nl=penalize_nl)
    chain = native.build_sampler(params, engine._model)
    try:
        for token in (nl, nl, 42):
            chain.accept(token)
        data, array = _candidates(engine.n_vocab)
        llama_cpp.llama_sampler_apply(chain.sampler, ctypes.byref(array))
    finally:
        chain.close()
    assert data[42].logit == pytest.approx(0.25)  # other seen tokens are penalised
    assert data[nl].logit == pytest.approx(0.25 if penalize_nl else 1.0)

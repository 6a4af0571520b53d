"""One rule per load setting, wherever it enters: `danlu run` flags, DANLU_* settings and
`danlu.load()` all refuse the same values with the same words."""

from __future__ import annotations

import pytest

import danlu
from danlu.config import Settings
from danlu.engine.base import LoadOptions
from danlu.errors import InvalidParameter


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["-c", "0"], "invalid n_ctx=0"),
        (["-c", "999999"], "context length 999999 is larger than the 8192 tokens 'smollm2'"),
        (["-t", "0"], "invalid threads=0"),
        (["-t", "-1"], "invalid threads=-1"),
        (["-ngl", "-2"], "invalid gpu_layers=-2"),
        (["--keep", "-2"], "invalid keep=-2"),
    ],
)
def test_run_refuses_out_of_range_settings_instead_of_bending_them(danlu, flags, says):
    result = danlu("run", "smollm2", "hi", "-n", "1", *flags)
    assert result.code == 1
    assert result.err.startswith(f"error: {says}")
    assert result.err.count("\n") == 1
    assert result.out == ""  # refused before any answer


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"n_ctx": 0}, "invalid n_ctx=0"),
        ({"n_ctx": 8193}, "larger than the 8192 tokens"),
        ({"threads": 0}, "invalid threads=0"),
        ({"gpu_layers": -2}, "invalid gpu_layers=-2"),
        ({"parallel": 0}, "invalid parallel=0"),
        ({"parallel": 65}, "invalid parallel=65"),
    ],
)
def test_load_refuses_what_the_cli_refuses(options, says):
    with pytest.raises(InvalidParameter, match=says):
        danlu.load("smollm2", **options)


def test_load_options_carry_the_rules_and_take_no_unknown_fields():
    assert LoadOptions.build(n_ctx=16, threads=1, gpu_layers=-1, parallel=64).n_ctx == 16
    with pytest.raises(InvalidParameter, match="unknown parameter 'ctx'"):
        LoadOptions.build(ctx=512)


def test_the_default_context_shrinks_to_the_model_but_an_asked_one_does_not(danlu_home):
    settings = Settings(home=danlu_home, n_ctx=100_000)  # a default, not a request
    with danlu.load("smollm2", settings=settings, threads=2) as model:
        assert model.n_ctx == 8192
    with danlu.load("smollm2", settings=settings, n_ctx=8192, threads=2) as model:
        assert model.n_ctx == 8192


def test_keep_is_checked_by_the_library_too(model):
    with pytest.raises(InvalidParameter, match="invalid keep=-1"):
        model.chat([{"role": "user", "content": "hi"}], keep=-1, max_tokens=1)

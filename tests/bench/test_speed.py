"""`danlu bench MODEL`: complete, well-formed reports on the real model (no timing asserted)."""

from __future__ import annotations

import csv
import io
import json
from typing import ClassVar

import pytest

from danlu.bench import SpeedSettings, bench_model
from danlu.bench.stats import Spread
from danlu.engine.base import Chunk
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.engine.llamacpp.machine import resolve_repack
from danlu.errors import InvalidRequest, NotGGUF
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture
from tests.conftest import smollm2_path


class Recording(LlamaCppEngine):
    """The real engine, keeping what each stream was given and its last chunk (usage and
    timing), so the test can see what the bench measured."""

    streams: ClassVar[list[tuple[list[int], Chunk, int]]] = []  # prompt, last chunk, generated

    def stream(self, prompt, params):
        chunks = []
        for chunk in super().stream(prompt, params):
            chunks.append(chunk)
            yield chunk
        generated = sum(len(c.token_ids) for c in chunks)
        Recording.streams.append((list(prompt), chunks[-1], generated))


def test_every_test_at_every_depth_measures_what_it_says(monkeypatch):
    """pp32 decodes 32 tokens into an empty cache, or after 48 cached at d48; tg8 generates
    8 timed tokens (9: the first starts the clock) after 8, or 48 + 8, prompt tokens."""
    monkeypatch.setattr("danlu.bench.speed.LlamaCppEngine", Recording)
    Recording.streams = []
    settings = SpeedSettings(prompt_tokens=[32], gen_tokens=[8], reps=2, threads=[2], depth=[0, 48])
    calls = []
    rows = bench_model("smollm2", settings, progress=lambda *event: calls.append(event[2]))
    assert [r.test for r in rows] == ["pp32", "tg8", "pp32 @ d48", "tg8 @ d48"]
    assert all(r.threads == 2 and r.n_batch == 512 and r.model == "smollm2" for r in rows)
    assert rows[0].size_mb == smollm2_path().stat().st_size / 2**20
    assert calls and calls[-1] == 8  # 4 tests x 2 reps
    streams = iter(Recording.streams)
    runs = 3  # one warm-up, then the 2 measured
    for row, (kind, n, depth) in zip(
        rows, [("pp", 32, 0), ("tg", 8, 0), ("pp", 32, 48), ("tg", 8, 48)], strict=True
    ):
        rates = []
        for _ in range(runs):
            if kind == "pp" and depth:  # the depth first goes into the cache alone
                prefix, _, _ = next(streams)
                assert len(prefix) == depth
            prompt, last, generated = next(streams)
            if kind == "pp":
                assert len(prompt) == depth + n and generated == 1
                if depth:
                    assert prompt[:depth] == prefix
                assert (last.usage.prompt_tokens, last.usage.cached_tokens) == (depth + n, depth)
                assert last.timing.prompt_tokens == n  # decoded: the n, not the depth
                rates.append(n / last.timing.prompt_seconds)
            else:
                assert len(prompt) == depth + 8 and last.usage.cached_tokens == 0
                assert generated == last.usage.completion_tokens == n + 1
                assert last.finish_reason == "length"  # end-of-text ignored
        assert row.tokens_per_second.n == 2
        if kind == "pp":  # the mean and spread of the measured runs, warm-up left out
            expected = Spread.of(rates[1:])
            assert row.tokens_per_second.mean == pytest.approx(expected.mean, rel=1e-12)
            assert row.tokens_per_second.std == pytest.approx(expected.std, rel=1e-9)
    assert next(streams, None) is None


def test_a_test_that_cannot_fit_is_refused_before_loading():
    with pytest.raises(InvalidRequest, match=r"needs \d+ tokens of context"):
        bench_model("smollm2", SpeedSettings(prompt_tokens=[9000], gen_tokens=[0], reps=1))


def test_cli_table_json_and_csv(danlu):  # noqa: F811
    args = ("bench", "smollm2", "-p", "16", "-n", "4", "-r", "1", "-t", "1,2", "-b", "16")
    table = danlu(*args)
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0] == "| model | size | threads | n_batch | fa | repack | test | t/s |"
    assert len(lines) == 2 + 4  # two thread counts x pp and tg
    as_json = json.loads(danlu(*args, "--json").out)
    assert {(r["threads"], r["test"]) for r in as_json} == {
        (1, "pp16"),
        (1, "tg4"),
        (2, "pp16"),
        (2, "tg4"),
    }
    rows = list(csv.DictReader(io.StringIO(danlu(*args, "--csv").out)))
    assert len(rows) == 4 and all(float(r["tps_mean"]) > 0 for r in rows)
    bad = danlu("bench", "smollm2", "-t", "two")
    assert bad.code == 1 and "-t takes comma-separated integers" in bad.err
    zero = danlu("bench", "smollm2", "-t", "0")
    assert zero.code == 1 and "threads" in zero.err
    both = danlu(
        "bench", "smollm2", "-p", "16", "-n", "0", "-r", "1", "--repack", "on,off", "-fa", "off",
        "--json",
    )  # fmt: skip
    rows = [(r["repack"], r["flash_attn"]) for r in json.loads(both.out)]
    if resolve_repack(None):  # repacked weights run here, in this process
        assert rows == [("on", "off"), ("off", "off")]
    else:  # AMX: repack on is measured in a child of its own, which may die (llama.cpp #20824)
        died = "smollm2: fa off, repack on died by SIG" in both.err
        assert rows == ([] if died else [("on", "off")]) + [("off", "off")], both.err
        assert both.code == 0 and (not died or "AMX" in both.err)
    bad = danlu("bench", "smollm2", "--repack", "maybe")
    assert bad.code == 1 and "--repack takes on, off or both" in bad.err
    missing = danlu("bench", "nope")
    assert missing.code == 1 and "nope" in missing.err


def test_a_model_that_is_not_gguf_is_refused_as_one_line(danlu, tmp_path):  # noqa: F811
    from tests.store.store_helpers import write_hf_folder

    folder = write_hf_folder(tmp_path / "hf")
    assert danlu("import", str(folder), "--name", "hf").code == 0
    with pytest.raises(NotGGUF, match="'hf' is a safetensors model") as info:
        bench_model("hf", SpeedSettings(prompt_tokens=[8], gen_tokens=[0], reps=1))
    assert "only GGUF models can be measured by danlu bench" in info.value.message
    refused = danlu("bench", "hf", "-p", "8", "-n", "0", "-r", "1")
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1
    assert "danlu bench serve URL" in refused.err

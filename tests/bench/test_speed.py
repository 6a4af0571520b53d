"""`danlu bench MODEL`: complete, well-formed reports on the real model (no timing asserted)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from danlu.bench import SpeedSettings, bench_model
from danlu.errors import InvalidRequest, NotGGUF
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture


def test_every_test_at_every_depth_gets_a_row():
    settings = SpeedSettings(prompt_tokens=[32], gen_tokens=[8], reps=2, threads=[2], depth=[0, 48])
    calls = []
    rows = bench_model("smollm2", settings, progress=lambda done, total: calls.append(total))
    assert [r.test for r in rows] == ["pp32", "tg8", "pp32 @ d48", "tg8 @ d48"]
    assert all(r.threads == 2 and r.n_batch == 512 and r.model == "smollm2" for r in rows)
    assert all(r.tokens_per_second.n == 2 and r.tokens_per_second.mean > 0 for r in rows)
    assert all(r.tokens_per_second.std >= 0 for r in rows) and rows[0].size_mb > 50
    assert calls and calls[-1] == 8  # 4 tests x 2 reps


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
    both = json.loads(
        danlu(
            "bench",
            "smollm2",
            "-p",
            "16",
            "-n",
            "0",
            "-r",
            "1",
            "--repack",
            "on,off",
            "-fa",
            "off",
            "--json",
        ).out
    )
    assert [(r["repack"], r["flash_attn"]) for r in both] == [("on", "off"), ("off", "off")]
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

"""`danlu bench serve` against a live `danlu serve`: complete reports, errors counted."""

from __future__ import annotations

import json
import socket

import pytest

from danlu.bench import LoadSettings, bench_server
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture
from tests.server.conftest import metric


def test_levels_are_complete_and_well_formed(live):
    settings = LoadSettings(url=live.url, concurrency=[1, 2], requests=4, max_tokens=8)
    generated = metric(live, "danlu_generated_tokens_total")
    levels = bench_server(settings)
    # the tokens the levels counted are the tokens the server says it generated
    served = metric(live, "danlu_generated_tokens_total") - generated
    counted = [lv["output_tokens_per_second"] * lv["seconds"] for lv in levels]
    assert sum(counted) == pytest.approx(served)
    assert [lv["concurrency"] for lv in levels] == [1, 2]
    for lv, tokens in zip(levels, counted, strict=True):
        assert lv["requests"] == 4 and lv["errors"] == 0, lv
        assert lv["requests_per_second"] * lv["seconds"] == pytest.approx(4)
        assert 4 <= round(tokens) <= 4 * 8  # at least one token and at most 8 per request
        for latency in ("ttft", "tpot", "itl"):
            values = lv[latency]
            assert set(values) == {"mean", "p50", "p90", "p99"}
            assert 0 < values["p50"] <= values["p90"] <= values["p99"]


def test_failures_are_counted_not_raised(live):
    settings = LoadSettings(url=live.v1, model="nope", concurrency=[2], requests=3, max_tokens=4)
    (level,) = bench_server(settings)
    assert level["requests"] == 3 and level["errors"] == 3
    assert level["error_kinds"] == ["HTTP 404"] and level["output_tokens_per_second"] == 0


def test_cli_json(danlu, live):  # noqa: F811
    r = danlu(
        "bench",
        "serve",
        live.url,
        "--concurrency",
        "2",
        "--requests",
        "2",
        "--max-tokens",
        "4",
        "--json",
    )
    assert r.code == 0, r.err
    (level,) = json.loads(r.out)
    assert level["concurrency"] == 2 and level["errors"] == 0
    table = danlu(
        "bench", "serve", live.url, "--concurrency", "1", "--requests", "20", "--max-tokens", "2"
    )
    assert table.out.startswith("| clients | requests | errors |")
    assert "more requests than prompts" in table.err
    bad = danlu("bench", "serve", "ftp://x")
    assert bad.code == 1 and "not an http(s) URL" in bad.err


def test_a_dead_url_is_one_line_and_a_failure_not_a_table_of_zeros(danlu):  # noqa: F811
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = danlu("bench", "serve", f"http://127.0.0.1:{port}", "--requests", "2")
    assert result.code == 1 and result.out == ""
    assert result.err.strip().splitlines() == [
        f"error: cannot reach http://127.0.0.1:{port}: connection refused "
        "(is the server running? start one with `danlu serve`)"
    ]

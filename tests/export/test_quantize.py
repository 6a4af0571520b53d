"""`danlu quantize`: any GGUF in the store, with the quality table against its source."""

from __future__ import annotations

import json

import pytest

import danlu


@pytest.mark.slow
def test_quantize_a_store_model_with_its_quality_table(cli, danlu_home):
    result = cli("quantize", "smollm2", "q8_0", "--name", "smol-q8", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)["parity"]
    source, quant = report["rows"]
    assert source["variant"] == "q4_1" and source["top1"] == 1.0
    assert source["greedy"] >= 3  # a reused prefix may flip a near-tie (docs/architecture.md)
    assert quant["variant"] == "q8_0" and 0.0 <= quant["top1"] <= 1.0
    assert quant["top1_drop"] == pytest.approx(1.0 - quant["top1"])
    assert source["flips"] == 0 and 0 <= quant["near_ties"] <= quant["flips"]
    # q8_0 rounds finely: the tokens it turns were close calls for the source already
    assert quant["flips"] - quant["near_ties"] <= 1, quant
    shown = json.loads(cli("show", "smol-q8", "--json").out)
    assert shown["quantization"] == "Q8_0" and shown["provenance"]["from"] == "smollm2"
    with danlu.load("smol-q8", n_ctx=256) as model:
        reply = model.chat([{"role": "user", "content": "Hi"}], temperature=0, max_tokens=8)
    assert reply.usage.completion_tokens <= 8 and reply.text.strip()
    table = cli("quantize", "smol-q8", "q4_0", "--name", "smol-q4")
    assert table.code == 0 and "parity against smol-q8 (q8_0)" in table.out

"""Bad input to export, quantize and create: one line, exit 1, nothing in the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from danlu.export.convert import convert
from danlu.export.errors import UnsupportedArchitecture


def in_store(home: Path) -> list[str]:
    """Every folder in the store, hidden ones (staging, trash) included."""
    models = home / "models"
    return sorted(p.name for p in models.iterdir()) if models.is_dir() else []


def test_export_of_a_run_that_does_not_exist(cli, danlu_home):
    result = cli("export", "runs/nope", "--name", "x")
    assert result.code == 1
    assert result.err.startswith("error: no training run 'runs/nope'")
    assert len(result.err.strip().splitlines()) == 1
    assert in_store(danlu_home) in ([], ["smollm2"])


def test_an_unknown_quantization_type(cli, danlu_home):
    result = cli("quantize", "smollm2", "q3_banana", "--name", "bad")
    assert result.code == 1
    assert "unknown quantization type 'q3_banana'" in result.err and "q4_k_m" in result.err
    assert in_store(danlu_home) in ([], ["smollm2"])


def test_quantize_lists_the_types(cli):
    listed = cli("quantize", "--list")  # as docs/export.md writes it: no MODEL, no TYPE
    assert listed.code == 0, listed.err
    types = set(listed.out.split())
    assert {"q4_k_m", "q8_0", "q6_k", "q5_k_m", "q4_0", "iq4_xs"} <= types
    assert "iq2_xs" not in types and "need an importance matrix" in listed.err
    assert cli("quantize", "smollm2", "x", "--list").out == listed.out


@pytest.mark.parametrize("qtype", ["iq2_xs", "IQ1_S", "q2_k_s"])
def test_types_that_need_an_importance_matrix_are_refused_before_any_work(cli, danlu_home, qtype):
    quantized = cli("quantize", "smollm2", qtype, "--name", "iq")
    exported = cli("export", "runs/nope", "--name", "iq", "--quant", qtype)
    for result in (quantized, exported):
        assert result.code == 1
        assert f"{qtype.lower()} needs an importance matrix" in result.err
        assert len(result.err.strip().splitlines()) == 1
    assert in_store(danlu_home) in ([], ["smollm2"])


def test_an_architecture_the_converter_does_not_support(tmp_path: Path):
    folder = tmp_path / "odd"
    folder.mkdir()
    config = {"architectures": ["NoSuchThingForCausalLM"], "model_type": "nosuchthing"}
    (folder / "config.json").write_text(json.dumps(config))
    out = tmp_path / "out.gguf"
    with pytest.raises(UnsupportedArchitecture) as info:
        convert(folder, out)
    assert "NoSuchThingForCausalLM" in info.value.message
    assert not out.exists()


def test_quantizing_a_model_that_is_not_gguf_is_refused(cli, danlu_home, tmp_path):
    from tests.store.store_helpers import write_hf_folder

    folder = write_hf_folder(tmp_path / "hf")
    assert cli("import", str(folder), "--name", "hf").code == 0
    result = cli("quantize", "hf", "q8_0")
    assert result.code == 1 and "only GGUF models can be quantized" in result.err
    assert in_store(danlu_home) == ["hf", "smollm2"]

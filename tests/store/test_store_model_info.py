"""Reading metadata from GGUF headers and Hugging Face folders, and refusing bad files."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest

from danlu.errors import CorruptModel, StoreError
from danlu.store.gguf_info import read_gguf_header, read_gguf_info
from danlu.store.hf_info import model_files, read_hf_info
from tests.store.store_helpers import CHAT_TEMPLATE, write_safetensors, write_tiny_gguf


def test_smollm2_gguf_metadata(smollm_gguf: Path) -> None:
    info = read_gguf_info(smollm_gguf)
    assert info.format == "gguf"
    assert info.architecture == "llama"
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert info.parameters == 134_515_008
    assert info.license == "apache-2.0"
    assert info.chat_template and info.chat_template.startswith("{% for message in messages %}")


def test_header_agrees_with_gguf_reader(smollm_gguf: Path) -> None:
    """Our fast header walk must see what gguf-py's full reader sees."""
    ours = read_gguf_header(smollm_gguf)
    reference = gguf.GGUFReader(smollm_gguf)
    assert [t.name for t in ours.tensors] == [t.name for t in reference.tensors]
    assert [t.n_elements for t in ours.tensors] == [int(t.n_elements) for t in reference.tensors]
    assert [t.type for t in ours.tensors] == [int(t.tensor_type) for t in reference.tensors]
    assert ours.data_start == reference.data_offset
    template = reference.fields["tokenizer.chat_template"].contents()
    assert ours.metadata["tokenizer.chat_template"] == template


def test_quantization_falls_back_to_the_dominant_tensor_type(tmp_path: Path) -> None:
    info = read_gguf_info(write_tiny_gguf(tmp_path / "t.gguf"))
    assert (info.architecture, info.context_length, info.parameters) == ("qwen2", 512, 136)
    assert info.quantization == "F16"  # 128 F16 weights outweigh 8 F32 ones


def test_file_type_names_the_quantization(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "t.gguf", file_type=int(gguf.LlamaFileType.MOSTLY_BF16))
    assert read_gguf_info(path).quantization == "BF16"


def _corrupt_files(tmp_path: Path, smollm_gguf: Path) -> dict[str, Path]:
    real = smollm_gguf.read_bytes()[:2_000_000]  # header is ~1.8 MB; tensor data is cut
    cases = {
        "random": np.random.default_rng(0).bytes(4096),
        "header-cut": real[:1000],
        "empty": b"",
        "data-cut": real,
    }
    for name, data in cases.items():
        (tmp_path / f"{name}.gguf").write_bytes(data)
    return {name: tmp_path / f"{name}.gguf" for name in cases} | {"folder": tmp_path}


@pytest.mark.parametrize("case", ["random", "header-cut", "empty", "data-cut", "folder"])
def test_corrupt_gguf_is_one_line_corrupt_model(
    case: str, tmp_path: Path, smollm_gguf: Path
) -> None:
    path = _corrupt_files(tmp_path, smollm_gguf)[case]
    with pytest.raises(CorruptModel) as info:
        read_gguf_info(path)
    err = info.value
    assert str(path) in err.message
    assert "\n" not in err.one_line()
    assert err.hint and "gguf" in err.hint
    expected = {"random": "wrong magic", "header-cut": "truncated", "data-cut": "truncated"}
    assert expected.get(case, "") in err.message


def test_hf_folder_metadata(hf_folder: Path) -> None:
    info = read_hf_info(hf_folder)
    assert info.format == "safetensors"
    assert info.architecture == "LlamaForCausalLM"
    assert info.parameters == 32 + 32 + 4
    assert info.quantization == "BF16"
    assert info.context_length == 2048
    assert info.chat_template == CHAT_TEMPLATE
    assert info.license == "mit"
    assert model_files(hf_folder)[0] == "model.safetensors"


def test_hf_named_templates_and_model_type_fallback(hf_folder: Path) -> None:
    (hf_folder / "config.json").write_text(json.dumps({"model_type": "qwen2", "n_positions": 64}))
    named = [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]
    (hf_folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": named}))
    info = read_hf_info(hf_folder)
    assert (info.architecture, info.context_length, info.chat_template) == ("qwen2", 64, "D")


def test_sharded_safetensors_are_summed(hf_folder: Path) -> None:
    (hf_folder / "model.safetensors").unlink()
    write_safetensors(hf_folder / "model-00001-of-00002.safetensors", {"a": ("F16", [10, 10])})
    write_safetensors(hf_folder / "model-00002-of-00002.safetensors", {"b": ("F16", [5])})
    info = read_hf_info(hf_folder)
    assert (info.parameters, info.quantization) == (105, "F16")


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("config.json", "config.json"),
        ("model.safetensors", ".safetensors"),
        ("tokenizer.json", "tokenizer"),
    ],
)
def test_incomplete_hf_folder_names_what_is_missing(
    hf_folder: Path, missing: str, named: str
) -> None:
    (hf_folder / missing).unlink()
    with pytest.raises(StoreError) as info:
        read_hf_info(hf_folder)
    assert named in info.value.message
    assert str(hf_folder) in info.value.message


def test_damaged_safetensors_header_is_corrupt(hf_folder: Path) -> None:
    weights = hf_folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CorruptModel) as info:
        read_hf_info(hf_folder)
    assert "model.safetensors" in info.value.message

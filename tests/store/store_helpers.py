"""Builders for store tests: real files written by hand (no network, no mocks)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from pathlib import Path

SMOLLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHAT_TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"


def link_or_symlink(src: Path, dst: Path) -> Path:
    """Put the big real file at `dst` without copying 98 MB."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        dst.symlink_to(src)
    return dst


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> None:
    """A real .safetensors file: 8-byte LE header length, JSON header, zeroed data."""
    itemsize = {"BF16": 2, "F16": 2, "F32": 4}
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        nbytes = itemsize[dtype] * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))


def write_hf_folder(folder: Path, *, template: str | None = CHAT_TEMPLATE) -> Path:
    """A tiny but complete Hugging Face model folder (68 BF16/F32 weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "max_position_embeddings": 2048,
        "torch_dtype": "bfloat16",
    }
    (folder / "config.json").write_text(json.dumps(config))
    write_safetensors(
        folder / "model.safetensors",
        {"embed.weight": ("BF16", [8, 4]), "head.weight": ("BF16", [4, 8]), "norm": ("F32", [4])},
    )
    (folder / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {"type": "BPE"}}))
    tok_config = {"eos_token": "</s>"} | ({"chat_template": template} if template else {})
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_config))
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# tiny\n")
    return folder


def write_hub_cache(
    cache: Path, repo_id: str, files: dict[str, Path], kind: str = "models"
) -> Path:
    """Lay files out exactly as huggingface_hub's cache does; returns the snapshot folder.

    models--org--repo (datasets--org--repo for kind="datasets")/refs/main holds the commit
    hash; snapshots/<hash>/<file> are relative symlinks to blobs/<etag>.
    """
    repo = cache / (f"{kind}--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    for name, src in files.items():
        etag = hashlib.sha256(name.encode()).hexdigest()
        link_or_symlink(src, repo / "blobs" / etag)
        target = snapshot / name
        target.parent.mkdir(parents=True, exist_ok=True)
        depth = len(Path(name).parts) + 1
        target.symlink_to(Path(*[".."] * depth) / "blobs" / etag)
    return snapshot


def write_tiny_gguf(path: Path, *, arch: str = "qwen2", file_type: int | None = None) -> Path:
    """A valid ~300-byte GGUF (136 weights: 128 F16 + 8 F32) written with gguf-py."""
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_context_length(512)
    if file_type is not None:
        writer.add_file_type(file_type)
    writer.add_tensor("tok_embd.weight", np.zeros((16, 8), dtype=np.float16))
    writer.add_tensor("norm.weight", np.zeros((8,), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path

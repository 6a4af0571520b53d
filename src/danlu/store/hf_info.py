"""Read a Hugging Face model folder: config.json, *.safetensors headers, tokenizer files.

Only headers are read: a safetensors file starts with an 8-byte little-endian length
and that many bytes of JSON describing every tensor's dtype, shape and byte range.
"""

from __future__ import annotations

import json
import math
import struct
from collections import Counter
from pathlib import Path

from danlu.errors import CorruptModel, StoreError
from danlu.store.manifest import ModelInfo

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")
# Top-level files worth keeping from a model folder; other weight formats are skipped.
KEEP_SUFFIXES = (".json", ".safetensors", ".model", ".txt", ".jinja", ".tiktoken", ".md", ".py")
_MAX_HEADER = 100 * 1024 * 1024
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


def safetensors_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*.safetensors") if p.is_file())


def model_files(folder: Path) -> list[str]:
    """Names of the files to import from `folder`, safetensors shards first."""
    names = sorted(
        p.name
        for p in Path(folder).iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.endswith(KEEP_SUFFIXES)
    )
    return sorted(names, key=lambda n: not n.endswith(".safetensors"))


def read_safetensors_header(path: Path) -> dict[str, dict]:
    """The tensor table of one .safetensors file ('__metadata__' dropped)."""
    hint = "download the model again; the .safetensors file is damaged"
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CorruptModel(f"{path} is too short to be a safetensors file", hint=hint)
            (length,) = struct.unpack("<Q", head)
            size = Path(path).stat().st_size
            if length > min(_MAX_HEADER, size - 8):
                raise CorruptModel(f"{path} has an impossible header length {length}", hint=hint)
            table = json.loads(f.read(length))
    except OSError as exc:
        raise CorruptModel(f"cannot read {path}: {exc.strerror or exc}", hint=hint) from None
    except ValueError as exc:
        raise CorruptModel(f"{path} has an unreadable header ({exc})", hint=hint) from None
    if not isinstance(table, dict):
        raise CorruptModel(f"{path} has a header that is not a JSON object", hint=hint)
    table.pop("__metadata__", None)
    _check_extent(path, table, 8 + length, size, hint)
    return table


def _check_extent(path: Path, table: dict, data_start: int, size: int, hint: str) -> None:
    try:
        end = max((int(t["data_offsets"][1]) for t in table.values()), default=0)
    except (KeyError, IndexError, TypeError, ValueError):
        raise CorruptModel(f"{path} has a malformed tensor table", hint=hint) from None
    if data_start + end > size:
        raise CorruptModel(
            f"{path} is truncated ({size} bytes, needs {data_start + end})", hint=hint
        )


def _weights(folder: Path) -> tuple[int, str | None]:
    """Total parameter count and the dominant dtype across all shards."""
    by_dtype: Counter[str] = Counter()
    for shard in safetensors_files(folder):
        for tensor in read_safetensors_header(shard).values():
            n = math.prod(int(d) for d in tensor.get("shape", []))
            by_dtype[str(tensor.get("dtype", "?")).upper()] += n
    dtype = by_dtype.most_common(1)[0][0] if by_dtype else None
    return sum(by_dtype.values()), dtype


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorruptModel(f"cannot read {path} ({exc})", hint="fix or re-download it") from None
    if not isinstance(data, dict):
        raise CorruptModel(f"{path} is not a JSON object", hint="fix or re-download it")
    return data


def _architecture(config: dict) -> str | None:
    archs = config.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        return archs[0]
    model_type = config.get("model_type")
    return model_type if isinstance(model_type, str) else None


def _context_length(config: dict) -> int | None:
    for section in (config, config.get("text_config") or {}):
        for key in _CONTEXT_KEYS:
            value = section.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return None


def _quantization(config: dict, dtype: str | None) -> str | None:
    """A quantization method (GPTQ, AWQ, ...) wins over the storage dtype."""
    quant = config.get("quantization_config")
    if isinstance(quant, dict) and isinstance(quant.get("quant_method"), str):
        return quant["quant_method"].upper()
    return dtype


def chat_template(folder: Path) -> str | None:
    """The Jinja chat template: chat_template.jinja, else tokenizer_config.json's."""
    jinja = Path(folder) / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config_path = Path(folder) / "tokenizer_config.json"
    if not config_path.is_file():
        return None
    template = _read_json(config_path).get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": ..., "template": ...}]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) else None


def card_license(folder: Path) -> str | None:
    """`license:` from the YAML front matter of README.md, if there is one."""
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return None
    lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, _, value = line.partition(":")
        if key.strip() == "license" and value.strip():
            return value.strip().strip("'\"")
    return None


def check_hf_folder(folder: Path) -> None:
    """StoreError naming the first thing a loadable HF model folder lacks."""
    hint = "a Hugging Face model folder needs config.json, *.safetensors and a tokenizer"
    if not (folder / "config.json").is_file():
        raise StoreError(f"{folder} has no config.json", hint=hint)
    if not safetensors_files(folder):
        raise StoreError(f"{folder} has no .safetensors weights", hint=hint)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise StoreError(f"{folder} has no tokenizer ({', '.join(TOKENIZER_FILES)})", hint=hint)


def read_hf_info(folder: Path) -> ModelInfo:
    """The ModelInfo of a Hugging Face model folder, reading headers only."""
    folder = Path(folder)
    check_hf_folder(folder)
    config = _read_json(folder / "config.json")
    parameters, dtype = _weights(folder)
    return ModelInfo(
        format="safetensors",
        architecture=_architecture(config),
        parameters=parameters,
        quantization=_quantization(config, dtype),
        context_length=_context_length(config),
        chat_template=chat_template(folder),
        license=card_license(folder),
    )

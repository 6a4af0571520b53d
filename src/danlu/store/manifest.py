"""The manifest: one JSON file per model that says what it is and where its files are.

`models/<name>/manifest.json` is the only thing the catalog trusts. It is written
last and atomically, so a model either has a complete manifest or does not exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from danlu.atomic import write_text_atomic
from danlu.errors import CorruptModel

MANIFEST_NAME = "manifest.json"

ModelFormat = Literal["gguf", "safetensors"]

BACKEND_FOR_FORMAT: dict[str, str] = {"gguf": "llama.cpp", "safetensors": "transformers"}
"""The engine backend that loads each on-disk format."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model's own files say about it, read without loading any weights."""

    format: ModelFormat
    architecture: str | None = None
    parameters: int | None = None
    quantization: str | None = None
    context_length: int | None = None
    chat_template: str | None = None
    license: str | None = None


class Manifest(BaseModel):
    """Everything danlu knows about one model in the store."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Model name; also the folder name under models/.")
    format: ModelFormat = Field(description="On-disk format: 'gguf' or 'safetensors'.")
    backend: str = Field(
        description="Engine backend that loads it: 'llama.cpp' for gguf, 'transformers' "
        "for safetensors."
    )
    files: list[str] = Field(
        min_length=1,
        description="Model files, main file first: relative to the model folder, or "
        "absolute for files referenced outside the store.",
    )
    architecture: str | None = Field(
        None, description="Architecture, e.g. 'llama' (GGUF) or 'LlamaForCausalLM' (HF)."
    )
    parameters: int | None = Field(None, ge=0, description="Number of weights.")
    quantization: str | None = Field(
        None, description="Weight type, e.g. 'Q4_1', 'Q4_K_M', 'F16', 'BF16'."
    )
    context_length: int | None = Field(
        None, ge=1, description="Context length the model was trained for, in tokens."
    )
    chat_template: str | None = Field(
        None, description="The Jinja chat template the model files carry, verbatim."
    )
    template: str | None = Field(
        None, description="Named template that overrides chat_template, e.g. 'chatml'."
    )
    license: str | None = Field(None, description="License id the model declares.")
    size: int = Field(ge=0, description="Total size of the model files in bytes.")
    sha256: str = Field(description="Hex SHA-256 of the main file (files[0]).")
    source: str = Field(
        description="Where it came from: 'package:<dist>', 'file:<abs path>' or "
        "'hf:<org>/<repo>[/<file>]'."
    )
    created: str = Field(description="When it entered the store (ISO-8601, UTC).")
    builtin: bool = Field(False, description="Shipped with danlu; cannot be removed.")
    # what `danlu create` (a Modelfile) and `danlu export` add
    parent: str | None = Field(
        None, description="The model this one was derived from (a Modelfile's FROM)."
    )
    system: str | None = Field(
        None, description="Default system prompt, used when a conversation has none."
    )
    sampling: dict[str, Any] = Field(
        default_factory=dict,
        description="Default sampling parameters (SamplingParams field names).",
    )
    n_ctx: int | None = Field(
        None, ge=16, description="Context length to load with when none is asked for."
    )
    adapters: list[str] = Field(
        default_factory=list,
        description="GGUF LoRA adapters applied at load (entries of `files`).",
    )
    provenance: dict[str, Any] | None = Field(
        None,
        description="How an export was made: run, base model, quantization, parity results.",
    )

    @field_validator("files")
    @classmethod
    def _files_stay_in_their_folder(cls, files: list[str]) -> list[str]:
        for entry in files:
            path = Path(entry)
            if not entry or (not path.is_absolute() and ".." in path.parts):
                raise ValueError(f"file entry '{entry}' must be absolute or inside the folder")
        return files

    def main_path(self, model_dir: Path) -> Path:
        """Absolute path of the main file, resolving a relative entry against `model_dir`."""
        first = Path(self.files[0])
        return first if first.is_absolute() else Path(model_dir) / first

    def adapter_paths(self, model_dir: Path) -> list[Path]:
        """Absolute paths of the GGUF LoRA adapters to apply at load."""
        return [p if p.is_absolute() else Path(model_dir) / p for p in map(Path, self.adapters)]

    def file_paths(self, model_dir: Path) -> list[Path]:
        """Absolute paths of all files, main file first."""
        return [p if p.is_absolute() else Path(model_dir) / p for p in map(Path, self.files)]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_manifest(model_dir: Path) -> Manifest:
    """Parse `model_dir/manifest.json`; any problem is a one-line CorruptModel."""
    path = Path(model_dir) / MANIFEST_NAME
    hint = f"remove it with `danlu rm {model_dir.name}` and import it again"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CorruptModel(f"cannot read {path}: {exc.strerror or exc}", hint=hint) from None
    except ValueError as exc:
        raise CorruptModel(f"{path} is not valid JSON ({exc})", hint=hint) from None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "manifest"
        raise CorruptModel(f"{path}: {where}: {first['msg']}", hint=hint) from None
    if manifest.name != model_dir.name:
        raise CorruptModel(
            f"{path} names model '{manifest.name}' but sits in folder '{model_dir.name}'",
            hint=hint,
        )
    return manifest


def write_manifest(model_dir: Path, manifest: Manifest) -> Path:
    """Write the manifest atomically; returns its path."""
    path = Path(model_dir) / MANIFEST_NAME
    write_text_atomic(path, manifest.model_dump_json(indent=2) + "\n")
    return path

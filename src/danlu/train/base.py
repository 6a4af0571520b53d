"""The base model of a run: found in the store, sized, and loaded into transformers.

An HF folder in the store loads as it is. A GGUF model is dequantized by transformers'
GGUF support once, then rebuilt as a plain model from its config and weights (the
GGUF-loaded model is flagged as quantized, and Trainer and save_pretrained refuse it)
and saved under DANLU_HOME/cache/dequantized/<sha256>/, so the next run starts at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from danlu.chat.template import ChatTemplate, resolve_template
from danlu.config import Settings
from danlu.diskspace import disk_full_as_error
from danlu.errors import ModelExists
from danlu.store import Catalog, Manifest
from danlu.store.gguf_info import read_gguf_header
from danlu.store.staging import staged_model
from danlu.train.memory import Shape


@dataclass(frozen=True)
class BaseModelRef:
    """A store model, where its transformers folder is (or will be), and its sizes."""

    manifest: Manifest
    source: Path  # the GGUF file or the HF folder in the store
    folder: Path  # the folder transformers loads: the HF one, or the dequantized cache
    shape: Shape

    @property
    def cached(self) -> bool:
        return (self.folder / "config.json").is_file()


def find_base(name: str, settings: Settings) -> BaseModelRef:
    """The store model `name` (ModelNotFound/CorruptModel from the catalog)."""
    catalog = Catalog(settings)
    manifest = catalog.get(name)
    main = catalog.main_path(name)
    if manifest.format == "gguf":
        folder = settings.cache_dir / "dequantized" / manifest.sha256[:32]
        return BaseModelRef(manifest, main, folder, gguf_shape(main, manifest))
    folder = catalog.model_dir(name)
    return BaseModelRef(manifest, folder, folder, hf_shape(folder, manifest))


def gguf_shape(path: Path, manifest: Manifest) -> Shape:
    meta = read_gguf_header(path).metadata
    arch = str(meta.get("general.architecture", manifest.architecture or ""))
    hidden = int(meta.get(f"{arch}.embedding_length", 0) or 0)
    layers = int(meta.get(f"{arch}.block_count", 0) or 0)
    vocab = int(meta.get(f"{arch}.vocab_size", 0) or 0) or 32000
    params = manifest.parameters or 12 * layers * hidden * hidden + vocab * hidden
    return Shape(params, hidden or 1024, layers or 24, vocab)


def hf_shape(folder: Path, manifest: Manifest) -> Shape:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config = config.get("text_config", config)
    hidden = int(config.get("hidden_size", 1024))
    layers = int(config.get("num_hidden_layers", 24))
    vocab = int(config.get("vocab_size", 32000))
    params = manifest.parameters or 12 * layers * hidden * hidden + vocab * hidden
    return Shape(params, hidden, layers, vocab)


def dequantize(ref: BaseModelRef) -> Path:
    """The GGUF model as a plain transformers folder in the cache (built once).

    It is written in a staging folder that carries this process's pid and renamed into
    place: a full disk (DiskFull) or a kill leaves no folder a later run would trust, and
    the next build sweeps what a killed one left."""
    if ref.cached:
        return ref.folder
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src, name = str(ref.source.parent), ref.source.name
    flagged = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=torch.float32)
    model = rebuild_plain(flagged)
    del flagged
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
    needed = ref.shape.parameters * 4  # float32 weights; the tokenizer files are small
    try:
        with (
            disk_full_as_error(ref.folder.parent, needed),
            staged_model(ref.folder.parent, ref.folder.name) as stage,
        ):
            model.save_pretrained(stage)
            tokenizer.save_pretrained(stage)
    except ModelExists:
        if not ref.cached:  # another process built it first: then ours is dropped
            raise
    return ref.folder


def rebuild_plain(flagged: Any) -> Any:
    """A plain model with the weights of a GGUF-loaded (quantization-flagged) one."""
    from transformers import AutoModelForCausalLM

    config = flagged.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=flagged.dtype)
    model.load_state_dict(flagged.state_dict())
    return model


def load_tokenizer(folder: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # batches need a pad; it is masked out
    return tokenizer


def chat_template(ref: BaseModelRef, tokenizer: Any, override: str | None) -> ChatTemplate:
    """The template `danlu run` would use for this model: the same resolve_template call."""
    bos, eos = tokenizer.bos_token or "", tokenizer.eos_token or ""
    return resolve_template(
        ref.manifest.chat_template, override or ref.manifest.template, bos_token=bos, eos_token=eos
    )

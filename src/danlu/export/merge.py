"""A run's result as one plain Hugging Face folder: the LoRA merged into the base weights.

The base loads in its own dtype (its config says which), the adapter is applied and
merged (`merge_and_unload`), and the tokenizer is saved with the template the run
trained on, which the converter then writes into the GGUF metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from danlu.export.errors import ExportError
from danlu.extras import require


def base_folder(weights: Path) -> Path:
    """The HF folder whose config gives the dtype: the adapter's base, or the model itself."""
    adapter = weights / "adapter_config.json"
    if not adapter.is_file():
        return weights
    base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path", "")
    if not base or not Path(base).is_dir():
        raise ExportError(
            f"the adapter in {weights} needs its base model folder '{base}', which is gone",
            hint="train the run again (it rebuilds the cached base model)",
        )
    return Path(base)


def base_dtype(weights: Path) -> Any:
    """The torch dtype the base model's config declares (float32 when it says nothing)."""
    torch = require("torch", "train", "danlu export")
    config = json.loads((base_folder(weights) / "config.json").read_text(encoding="utf-8"))
    name = config.get("dtype") or config.get("torch_dtype") or "float32"
    return getattr(torch, str(name).removeprefix("torch."), torch.float32)


def merge(weights: Path, template: str, out: Path) -> Path:
    """Write the merged model, its tokenizer and `template` to the new folder `out`."""
    require("transformers", "train", "danlu export")
    from transformers import AutoTokenizer

    from danlu.engine.transformers.engine import load_model

    model = load_model(weights, base_dtype(weights))
    if hasattr(model, "merge_and_unload"):  # a peft model: fold the adapter in
        model = model.merge_and_unload()
    out.mkdir(parents=True)
    model.save_pretrained(str(out))
    tokenizer = AutoTokenizer.from_pretrained(str(weights))
    tokenizer.chat_template = template
    tokenizer.save_pretrained(str(out))
    return out

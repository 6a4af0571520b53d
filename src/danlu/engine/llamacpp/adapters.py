"""GGUF LoRA adapters, applied by llama.cpp on top of the base weights at load time."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path

import llama_cpp
from llama_cpp import _internals as internals

from danlu.errors import CorruptModel


def load_adapters(model: internals.LlamaModel, paths: Sequence[str]) -> list[int]:
    """Load each adapter file against `model`; CorruptModel names one that does not fit.

    llama.cpp frees adapters together with their model, so nothing is kept to free."""
    adapters = []
    for path in paths:
        adapter = llama_cpp.llama_adapter_lora_init(model.model, str(Path(path)).encode())
        if not adapter:
            raise CorruptModel(
                f"llama.cpp could not apply the LoRA adapter {path}",
                hint="it must be a GGUF adapter exported for this base model",
            )
        adapters.append(adapter)
    return adapters


def set_adapters(context: internals.LlamaContext, adapters: Sequence[int]) -> None:
    """Use `adapters` (scale 1 each) in every decode of `context`."""
    if not adapters:
        return
    n = len(adapters)
    array = (llama_cpp.llama_adapter_lora_p_ctypes * n)(*adapters)
    scales = (ctypes.c_float * n)(*([1.0] * n))
    llama_cpp.llama_set_adapters_lora(context.ctx, array, n, scales)

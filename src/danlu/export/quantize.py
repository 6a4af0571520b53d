"""Quantization types and llama.cpp's quantizer, through llama-cpp-python's low-level API.

The types are read from llama-cpp-python's `LLAMA_FTYPE_MOSTLY_*` constants, so every
type the installed llama.cpp offers is accepted by its lower-case name (q4_k_m, q8_0,
iq4_nl, ...) and nothing else is.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from danlu.errors import InvalidParameter
from danlu.export.errors import ExportError, ImatrixRequired, UnknownQuantType

PREFIX = "LLAMA_FTYPE_MOSTLY_"
COMMON = ("q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0")
"""The types the quality table covers by default, best first."""
UNQUANTIZED = ("f16", "bf16", "f32")
"""GGUF weight types that count as "not quantized" (requantizing from them loses nothing)."""
NEEDS_IMATRIX = ("iq1_s", "iq1_m", "iq2_xxs", "iq2_xs", "iq2_s", "iq2_m", "q2_k_s")
"""Types llama.cpp refuses to make without an importance matrix (its quantize tool checks the
same list), which danlu does not compute: refused before any work, not after a conversion."""


def quant_types() -> dict[str, int]:
    """Every quantization type llama.cpp offers, by name, with its `llama_ftype` value."""
    import llama_cpp

    types = {
        name.removeprefix(PREFIX).lower(): int(getattr(llama_cpp, name))
        for name in dir(llama_cpp)
        if name.startswith(PREFIX)
    }
    types["f32"] = int(llama_cpp.LLAMA_FTYPE_ALL_F32)
    return dict(sorted(types.items()))


def usable_types() -> list[str]:
    """The types danlu can make: llama.cpp's, less those that need an importance matrix."""
    return [name for name in quant_types() if name not in NEEDS_IMATRIX]


def check_quant_type(name: str) -> str:
    """`name` lower-cased if danlu can make it; UnknownQuantType or ImatrixRequired if not."""
    wanted = name.strip().lower()
    common = ", ".join(COMMON)
    if wanted in NEEDS_IMATRIX:
        raise ImatrixRequired(
            f"{wanted} needs an importance matrix, which danlu does not compute yet",
            hint=f"pick one that needs none, e.g. {common}, iq4_xs; all: `danlu quantize --list`",
        )
    if wanted not in quant_types():
        raise UnknownQuantType(
            f"unknown quantization type '{name}'",
            hint=f"try {common}; all types: `danlu quantize --list`",
        )
    return wanted


def quantize(src: Path, dst: Path, qtype: str, *, threads: int = 2) -> Path:
    """Write `src` quantized to `qtype` at `dst` (requantizing an already quantized file
    is allowed: it compounds the error, which the quality table then shows)."""
    import llama_cpp

    from danlu.engine.llamacpp.logs import quiet_log

    if threads < 1:
        raise InvalidParameter(f"threads must be at least 1, not {threads}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = quant_types()[check_quant_type(qtype)]
    params.nthread = threads
    params.allow_requantize = True
    # the quantizer logs every tensor through llama.cpp's log; the CLI shows a bar instead
    with quiet_log():
        code = llama_cpp.llama_model_quantize(
            str(src).encode(), str(dst).encode(), ctypes.byref(params)
        )
    if code != 0 or not dst.is_file():
        raise ExportError(f"llama.cpp could not quantize {src.name} to {qtype} (code {code})")
    return dst

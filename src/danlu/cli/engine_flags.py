"""The engine flags `danlu run` and `danlu serve` share, with llama.cpp's names, and the
helpers behind `danlu run`'s grammar and prompt-cache flags.

Each engine flag fills one LoadOptions field (src/danlu/engine/base.py), which checks it;
an unset flag (None) leaves the field to its default or to the server's settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from danlu.errors import InvalidParameter

if TYPE_CHECKING:
    from danlu.config import Settings
    from danlu.engine.promptcache import PromptCacheRun
    from danlu.model import Model

Opt = typer.Option

FlashAttn = Annotated[
    str | None,
    Opt("--flash-attn", "-fa", help="Flash attention: on, off or auto (default off; see show)."),
]
BatchSize = Annotated[
    int | None, Opt("--batch-size", "-b", help="Prompt tokens per decode call (default 512).")
]
UbatchSize = Annotated[
    int | None, Opt("--ubatch-size", "-ub", help="Micro-batch size (default: the batch size).")
]
ThreadsBatch = Annotated[
    int | None, Opt("--threads-batch", "-tb", help="Threads for prompts (default: -t).")
]
Mlock = Annotated[bool, Opt("--mlock", help="Keep the weights locked in RAM.")]
NoMmap = Annotated[bool, Opt("--no-mmap", help="Read the file instead of mapping it.")]
CacheTypeK = Annotated[
    str | None, Opt("--cache-type-k", "-ctk", help="K cache type: f16, q8_0, q4_0, ...")
]
CacheTypeV = Annotated[
    str | None,
    Opt("--cache-type-v", "-ctv", help="V cache type (a quantized one needs -fa on|auto)."),
]
RopeScaling = Annotated[
    str | None, Opt("--rope-scaling", help="RoPE scaling: none, linear or yarn.")
]
RopeScale = Annotated[
    float | None, Opt("--rope-scale", help="Context scaling factor N (allows N x trained ctx).")
]
RopeFreqBase = Annotated[float | None, Opt("--rope-freq-base", help="RoPE base frequency.")]
YarnOrigCtx = Annotated[
    int | None, Opt("--yarn-orig-ctx", help="YaRN: the model's original context.")
]


def engine_options(
    *,
    flash_attn: str | None = None,
    n_batch: int | None = None,
    n_ubatch: int | None = None,
    threads_batch: int | None = None,
    mlock: bool = False,
    no_mmap: bool = False,
    cache_type_k: str | None = None,
    cache_type_v: str | None = None,
    rope_scaling: str | None = None,
    rope_scale: float | None = None,
    rope_freq_base: float | None = None,
    yarn_orig_ctx: int | None = None,
) -> dict[str, Any]:
    """The LoadOptions fields the flags set (unset flags are left out)."""
    fields = {
        "flash_attn": flash_attn,
        "n_batch": n_batch,
        "n_ubatch": n_ubatch,
        "threads_batch": threads_batch,
        "mlock": mlock or None,
        "mmap": False if no_mmap else None,
        "cache_type_k": cache_type_k,
        "cache_type_v": cache_type_v,
        "rope_scaling": rope_scaling,
        "rope_scale": rope_scale,
        "rope_freq_base": rope_freq_base,
        "yarn_orig_ctx": yarn_orig_ctx,
    }
    return {key: value for key, value in fields.items() if value is not None}


def engine_line(model: Model) -> str:
    """One line of the engine settings in effect, read back from llama.cpp where it says."""
    facts = model.engine_facts
    if not facts:
        return "engine: (this backend reports no settings)"
    fa = facts["flash_attn"]
    asked = facts.get("flash_attn_asked")
    why = f" (asked {asked})" if asked == "auto" else ""
    why = why or (" (default: see `danlu show`)" if asked == "off" else "")
    shown = ", ".join(f"{k}={v}" for k, v in facts.items() if not k.startswith("flash_attn"))
    return f"engine: flash_attn={fa}{why}, {shown}"


def grammar_from_flags(gbnf: str | None, file: Path | None, schema: str | None) -> str | None:
    """The GBNF of --grammar, --grammar-file or --json-schema (at most one of them)."""
    flags = (("--grammar", gbnf), ("--grammar-file", file), ("--json-schema", schema))
    given = [name for name, value in flags if value is not None]
    if len(given) > 1:
        raise InvalidParameter(f"{' and '.join(given)} both constrain the output", hint="give one")
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidParameter(f"cannot read grammar file '{file}': {exc}") from None
    if schema is not None:
        from danlu.chat.tools.grammar import json_grammar

        try:
            parsed = json.loads(schema)
        except ValueError as exc:
            raise InvalidParameter(f"--json-schema is not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise InvalidParameter("--json-schema must be a JSON object")
        return json_grammar(parsed)
    return gbnf


def open_prompt_cache(path: Path | None, model: Model) -> PromptCacheRun | None:
    """The --prompt-cache run for `model`: the file must match its weights and cache types."""
    if path is None:
        return None
    from danlu.engine.promptcache import PromptCache, PromptCacheRun

    facts = model.engine_facts
    identity = {
        "model": model.manifest.name,
        "sha256": model.manifest.sha256,
        "cache_type_k": facts.get("cache_type_k", ""),
        "cache_type_v": facts.get("cache_type_v", ""),
    }
    return PromptCacheRun(PromptCache(path, identity), model.engine)


def default_rows(settings: Settings) -> dict[str, str]:
    """The engine settings a load gets without flags, and why (`danlu show`)."""
    from danlu.engine.base import LoadOptions

    fields = LoadOptions.model_fields
    if settings.flash_attn:
        fa = f"{settings.flash_attn} (from DANLU_FLASH_ATTN)"
    else:
        fa = f"{fields['flash_attn'].default}: {fields['flash_attn'].description}"
    return {
        "flash attention": fa,
        "KV cache": f"{fields['cache_type_k'].default} / {fields['cache_type_v'].default}",
        "batch": f"{fields['n_batch'].default} (micro-batch: the same)",
        "threads": f"{settings.threads} (prompt: the same)",
    }

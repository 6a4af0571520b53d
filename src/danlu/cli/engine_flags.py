"""The engine flags `danlu run` and `danlu serve` share, with llama.cpp's names, and the
helpers behind `danlu run`'s grammar and prompt-cache flags.

Each engine flag fills one LoadOptions field (src/danlu/engine/base.py), which checks it;
an unset flag (None) leaves the field to its default or to the server's settings. A command
takes them all with `@with_engine_flags` and an `engine` parameter.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from danlu.errors import InvalidParameter

if TYPE_CHECKING:
    from danlu.engine.promptcache import PromptCacheRun
    from danlu.model import Model

Opt = typer.Option

FlashAttn = Annotated[
    str | None,
    Opt(
        "--flash-attn",
        "-fa",
        help="Flash attention: on, off or auto (default: measured, else auto; see show).",
    ),
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
Repack = Annotated[
    bool | None,
    Opt(
        "--repack/--no-repack",
        help="Repack weights for this CPU's fast kernels (default: measured, else on, off "
        "on CPUs with AMX; see show).",
    ),
]
CacheRam = Annotated[
    int | None,
    Opt("--cache-ram", "-cram", help="MiB of RAM for saved prompt states (default 8192; 0: off)."),
]


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class EngineFlag:
    """One engine flag: the command parameter typer reads, and the LoadOptions field it fills."""

    annotation: Any  # the parameter's type with its typer Option (names, help)
    field: str  # the LoadOptions field (and ServerSettings field) the flag sets
    default: Any = None  # the parameter's default: None leaves the field unset
    to_field: Callable[[Any], Any] = _same  # the flag's value as the field's (None: unset)


# The engine flags as command parameters, in --help order. A new engine knob is a
# LoadOptions field (engine/base.py), a row here and a ServerSettings field.
FLAGS: dict[str, EngineFlag] = {
    "threads_batch": EngineFlag(ThreadsBatch, "threads_batch"),
    "flash_attn": EngineFlag(FlashAttn, "flash_attn"),
    "repack": EngineFlag(Repack, "repack"),
    "batch_size": EngineFlag(BatchSize, "n_batch"),
    "ubatch_size": EngineFlag(UbatchSize, "n_ubatch"),
    "cache_type_k": EngineFlag(CacheTypeK, "cache_type_k"),
    "cache_type_v": EngineFlag(CacheTypeV, "cache_type_v"),
    "mlock": EngineFlag(Mlock, "mlock", False, lambda on: on or None),
    "no_mmap": EngineFlag(NoMmap, "mmap", False, lambda off: False if off else None),
    "rope_scaling": EngineFlag(RopeScaling, "rope_scaling"),
    "rope_scale": EngineFlag(RopeScale, "rope_scale"),
    "rope_freq_base": EngineFlag(RopeFreqBase, "rope_freq_base"),
    "yarn_orig_ctx": EngineFlag(YarnOrigCtx, "yarn_orig_ctx"),
    "cache_ram": EngineFlag(CacheRam, "cache_ram"),
}


def engine_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """The LoadOptions fields the flags' values set (unset flags are left out)."""
    fields = {flag.field: flag.to_field(values[name]) for name, flag in FLAGS.items()}
    return {key: value for key, value in fields.items() if value is not None}


def with_engine_flags(command: Callable[..., int]) -> Callable[..., int]:
    """`command` with the engine flags in place of its `engine` parameter.

    typer reads a command's flags from its signature, so the wrapper's signature spells
    them out; `command` receives them as `engine`, the LoadOptions fields they set.
    """
    signature = inspect.signature(command, eval_str=True)
    params: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        if param.name != "engine":
            params.append(param)
            continue
        params += [
            inspect.Parameter(name, param.kind, default=flag.default, annotation=flag.annotation)
            for name, flag in FLAGS.items()
        ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> int:
        values = {name: kwargs.pop(name, flag.default) for name, flag in FLAGS.items()}
        return command(**kwargs, engine=engine_options(values))

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def engine_line(model: Model) -> str:
    """The engine settings in effect, read back from llama.cpp where it says, with the
    reasons for those that came from their defaults (one line each after the first)."""
    facts = model.engine_facts
    if not facts:
        return "engine: (this backend reports no settings)"
    fa = facts["flash_attn"]
    asked = facts.get("flash_attn_asked")
    why = f" (asked {asked})" if asked == "auto" else ""
    shown = ", ".join(
        f"{k}={v}" for k, v in facts.items() if not k.startswith("flash_attn") and k != "repack"
    )
    lines = [f"engine: flash_attn={fa}{why}, repack={facts.get('repack', '?')}, {shown}"]
    lines += [f"  {field} {choice.line}" for field, choice in model.engine_defaults.items()]
    return "\n".join(lines)


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

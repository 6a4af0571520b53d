"""`danlu run`: chat with a model, one-shot or interactive. Flags mirror llama.cpp's."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from danlu.chat.context import check_keep
from danlu.cli.output import completion_json, speed_line
from danlu.engine.base import Completion
from danlu.errors import InvalidRequest

Opt = typer.Option


def run(
    model: Annotated[str | None, typer.Argument(help="Model name (default: smollm2).")] = None,
    prompt: Annotated[str | None, typer.Argument(help="Prompt; omit for a chat.")] = None,
    file: Annotated[Path | None, Opt("--file", "-f", help="Read the prompt from FILE.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print one JSON object with counts.")] = False,
    max_tokens: Annotated[int | None, Opt("--n-predict", "-n", help="Max new tokens.")] = None,
    ctx_size: Annotated[
        int | None,
        Opt("--ctx-size", "-c", help="Context length (default 4096, at most the model's own)."),
    ] = None,
    temp: Annotated[float | None, Opt("--temp", help="Temperature; 0 is greedy.")] = None,
    top_k: Annotated[int | None, Opt("--top-k")] = None,
    top_p: Annotated[float | None, Opt("--top-p")] = None,
    min_p: Annotated[float | None, Opt("--min-p")] = None,
    repeat_penalty: Annotated[float | None, Opt("--repeat-penalty")] = None,
    repeat_last_n: Annotated[int | None, Opt("--repeat-last-n")] = None,
    presence_penalty: Annotated[float | None, Opt("--presence-penalty")] = None,
    frequency_penalty: Annotated[float | None, Opt("--frequency-penalty")] = None,
    seed: Annotated[int | None, Opt("--seed", "-s")] = None,
    stop: Annotated[list[str] | None, Opt("--stop", help="Stop string (repeatable).")] = None,
    ignore_eos: Annotated[bool, Opt("--ignore-eos", help="Generate past end-of-text.")] = False,
    threads: Annotated[int | None, Opt("--threads", "-t", help="CPU threads.")] = None,
    gpu_layers: Annotated[int | None, Opt("--gpu-layers", "-ngl")] = None,
    keep: Annotated[int, Opt("--keep", help="Earliest turns never dropped.")] = 0,
    system: Annotated[str | None, Opt("--system", help="System prompt.")] = None,
    template: Annotated[str | None, Opt("--template", help="Named chat template.")] = None,
    verbose: Annotated[bool, Opt("--verbose", "-v", help="Show speed after answers.")] = False,
) -> int:
    """Chat with a model: one answer when a prompt is given or piped, else a session."""
    from danlu import load
    from danlu.config import Settings

    settings = Settings()
    if model and prompt is None and " " in model:
        raise InvalidRequest(
            f"'{model}' is not a model name",
            hint=f"name the model first: danlu run {settings.default_model} '...'",
        )
    sampling = {
        "max_tokens": max_tokens,
        "temperature": temp,
        "top_k": top_k,
        "top_p": top_p,
        "min_p": min_p,
        "repeat_penalty": repeat_penalty,
        "repeat_last_n": repeat_last_n,
        "presence_penalty": presence_penalty,
        "frequency_penalty": frequency_penalty,
        "seed": seed,
        "stop": stop or None,
        "ignore_eos": ignore_eos or None,
    }
    check_keep(keep)  # before the model loads, as load() checks its own settings
    text = _read_prompt(prompt, file)
    loaded = load(
        model or settings.default_model,
        settings=settings,
        n_ctx=ctx_size,
        threads=threads,
        gpu_layers=gpu_layers,
        template=template,
    )
    with loaded:
        loaded.defaults = loaded.params(**sampling)
        if text is None:
            from danlu.cli.repl import Repl

            return Repl(loaded, settings, system=system, keep=keep, verbose=verbose).loop()
        return _one_shot(loaded, _messages(system, text), keep, as_json, verbose)


def _read_prompt(prompt: str | None, file: Path | None) -> str | None:
    """The one-shot prompt from the argument, -f FILE and piped stdin; None means interactive."""
    parts = []
    if _stdin_is_piped():
        piped = sys.stdin.read()
        if piped.strip():
            parts.append(piped.rstrip("\n"))
    if file is not None:
        try:
            parts.append(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"cannot read prompt file '{file}': {exc}") from None
    if prompt is not None:
        parts.append(prompt)
    if parts:
        return "\n\n".join(parts)
    if not sys.stdin.isatty():
        raise InvalidRequest(
            "no prompt given and no terminal to chat in",
            hint="pass a prompt, use -f FILE, or pipe text on stdin",
        )
    return None


def _stdin_is_piped() -> bool:
    try:
        return not sys.stdin.isatty() and sys.stdin.readable()
    except (OSError, ValueError, AttributeError):
        return False


def _messages(system: str | None, text: str) -> list[dict[str, str]]:
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": text}]


def _one_shot(
    model: Any, messages: list[dict[str, str]], keep: int, as_json: bool, verbose: bool
) -> int:
    if as_json:
        result = model.chat(messages, keep=keep)
        print(json.dumps(completion_json(model.name, result), ensure_ascii=False))
        return 0
    chunks = []
    for chunk in model.stream_chat(messages, keep=keep):
        sys.stdout.write(chunk.text)
        sys.stdout.flush()
        chunks.append(chunk)
    sys.stdout.write("\n")
    result = Completion.collect(chunks)
    for notice in result.notices:
        print(f"note: {notice}", file=sys.stderr)
    if verbose:
        print(speed_line(result.timing), file=sys.stderr)
    return 0

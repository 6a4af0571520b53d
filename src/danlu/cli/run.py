"""`danlu run`: chat with a model, one-shot or interactive. Flags mirror llama.cpp's."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from danlu.chat.context import check_keep
from danlu.cli.engine_flags import (
    engine_line,
    grammar_from_flags,
    open_prompt_cache,
    with_engine_flags,
)
from danlu.cli.output import completion_json
from danlu.cli.probs import ProbsPrinter, inspected
from danlu.cli.raw import RawChat, RawMode
from danlu.cli.style import Style
from danlu.engine.base import Completion
from danlu.errors import InvalidRequest

if TYPE_CHECKING:
    from danlu.config import Settings
    from danlu.engine.promptcache import PromptCacheRun
    from danlu.model import Model
    from danlu.prompts import Filled

Opt = typer.Option


@with_engine_flags
def run(
    model: Annotated[
        str | None, typer.Argument(help="Model name (default: DANLU_DEFAULT_MODEL, else smollm2).")
    ] = None,
    prompt: Annotated[str | None, typer.Argument(help="Prompt; omit for a chat.")] = None,
    prompt_flag: Annotated[str | None, Opt("--prompt", "-p", help="The prompt, as a flag.")] = None,
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
    no_penalize_nl: Annotated[
        bool, Opt("--no-penalize-nl", help="The penalties leave the newline alone.")
    ] = False,
    seed: Annotated[int | None, Opt("--seed", "-s")] = None,
    stop: Annotated[list[str] | None, Opt("--stop", help="Stop string (repeatable).")] = None,
    ignore_eos: Annotated[bool, Opt("--ignore-eos", help="Generate past end-of-text.")] = False,
    grammar: Annotated[str | None, Opt("--grammar", help="GBNF grammar for the output.")] = None,
    grammar_file: Annotated[
        Path | None, Opt("--grammar-file", help="Read the GBNF grammar from FILE.")
    ] = None,
    json_schema: Annotated[
        str | None, Opt("--json-schema", "-j", help="JSON schema the output must match.")
    ] = None,
    gpu_layers: Annotated[int | None, Opt("--gpu-layers", "-ngl")] = None,
    threads: Annotated[int | None, Opt("--threads", "-t", help="CPU threads.")] = None,
    *,
    engine: dict[str, Any],  # the engine flags' LoadOptions fields (@with_engine_flags)
    prompt_cache: Annotated[
        Path | None, Opt("--prompt-cache", help="Save/restore the prompt's KV state in FILE.")
    ] = None,
    keep: Annotated[int, Opt("--keep", help="Earliest turns never dropped.")] = 0,
    system: Annotated[str | None, Opt("--system", help="System prompt.")] = None,
    template: Annotated[str | None, Opt("--template", help="Named chat template.")] = None,
    interactive: Annotated[
        bool, Opt("--interactive", "-i", help="Raw interactive mode: no chat template.")
    ] = False,
    interactive_first: Annotated[
        bool, Opt("--interactive-first", help="Raw mode, the user writes first.")
    ] = False,
    reverse_prompt: Annotated[
        list[str] | None,
        Opt("--reverse-prompt", "-r", help="Raw mode: hand the turn back at this text."),
    ] = None,
    in_prefix: Annotated[
        str | None, Opt("--in-prefix", help="Raw mode: text before each user line.")
    ] = None,
    in_suffix: Annotated[
        str | None, Opt("--in-suffix", help="Raw mode: text after each user line.")
    ] = None,
    color: Annotated[bool, Opt("--color", help="Colour prompt, input and answer.")] = False,
    verbose: Annotated[
        bool, Opt("--verbose", "-v", help="Show engine settings, and speed after answers.")
    ] = False,
    use_prompt: Annotated[
        str | None,
        Opt("--use-prompt", help="Start from the library prompt NAME (danlu prompt list)."),
    ] = None,
    var: Annotated[
        list[str] | None, Opt("--var", help="key=value for a --use-prompt variable (repeatable).")
    ] = None,
    show_probs: Annotated[
        int | None,
        Opt(
            "--show-probs",
            help="Print each token's top K candidates after the sampler chain, the pick "
            "marked * (docs/sampling.md).",
        ),
    ] = None,
) -> int:
    """Chat with a model: one answer when a prompt is given or piped, else a session.

    Any of -i, --interactive-first, -r, --in-prefix or --in-suffix selects the raw mode
    of llama.cpp's chat scripts: the prompt is continued as plain text, no template.
    """
    from danlu import load
    from danlu.config import Settings

    settings = Settings()
    _check_model_name(model, prompt, settings.default_model)
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
        "penalize_nl": False if no_penalize_nl else None,
        "seed": seed,
        "stop": stop or None,
        "ignore_eos": ignore_eos or None,
        "grammar": grammar_from_flags(grammar, grammar_file, json_schema),
    }
    raw = RawMode(
        tuple(reverse_prompt or ()),
        in_prefix or "",
        in_suffix or "",
        interactive,
        interactive_first,
    )
    check_keep(keep)  # before the model loads, as load() checks its own settings
    text = _read_prompt(_one_prompt(prompt, prompt_flag), file, stdin=not raw.selected)
    chosen, flag_system = _library_prompt(settings, use_prompt, var or []), system
    if chosen is not None:
        sampling = chosen.sampling(sampling)
        system = chosen.system(flag_system)
        text = None if text is None else chosen.message(text)
    suggested = chosen.prompt.model if chosen is not None else None
    name = model or suggested or settings.default_model
    loaded = load(
        name,
        settings=settings,
        n_ctx=ctx_size,
        threads=threads,
        gpu_layers=gpu_layers,
        template=template,
        **engine,
    )
    with loaded:
        loaded.defaults = loaded.params(**sampling)
        if show_probs is not None:
            loaded.defaults = inspected(loaded.defaults, show_probs)
        if verbose:
            print(engine_line(loaded), file=sys.stderr)
        cache = open_prompt_cache(prompt_cache, loaded)
        style = Style(force=color)
        if raw.selected:
            chat = RawChat(loaded, raw, text or "", style=style, cache=cache, verbose=verbose)
            return chat.loop()
        if text is None:
            from danlu.cli.repl import Repl

            repl = Repl(loaded, settings, system=system, keep=keep, verbose=verbose, style=style)
            repl.cache = cache
            repl.prompt, repl.flag_system = chosen, flag_system  # /prompt starts again from it
            return repl.loop()
        return _one_shot(loaded, _messages(system, text), keep, as_json, verbose, cache)


def _library_prompt(settings: Settings, name: str | None, var: list[str]) -> Filled | None:
    """The --use-prompt prompt with its --var values; a missing variable fails here,
    before the model loads."""
    if name is None:
        if var:
            raise InvalidRequest(
                "--var fills a library prompt's variables", hint="add --use-prompt NAME"
            )
        return None
    from danlu.prompts import PromptLibrary, parse_assignments

    return PromptLibrary(settings.prompts_dir).get(name).fill(parse_assignments(var))


def _check_model_name(model: str | None, prompt: str | None, default: str) -> None:
    if model and prompt is None and " " in model:
        raise InvalidRequest(
            f"'{model}' is not a model name",
            hint=f"name the model first: danlu run {default} '...'",
        )


def _one_prompt(argument: str | None, flag: str | None) -> str | None:
    if argument is not None and flag is not None:
        raise InvalidRequest(
            "two prompts given", hint="give it as an argument or with -p, not both"
        )
    return flag if argument is None else argument


def _read_prompt(prompt: str | None, file: Path | None, *, stdin: bool = True) -> str | None:
    """The one-shot prompt from the argument, -f FILE and piped stdin; None means interactive.

    The raw mode (stdin=False) leaves stdin to the user's lines.
    """
    parts = []
    if stdin and _stdin_is_piped():
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
    if stdin and not sys.stdin.isatty():
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
    model: Model,
    messages: list[dict[str, str]],
    keep: int,
    as_json: bool,
    verbose: bool,
    cache: PromptCacheRun | None,
) -> int:
    prompt = model.prepare_chat(messages, keep=keep)
    if cache is not None:
        print(f"note: {cache.before(prompt.tokens)}", file=sys.stderr)
    chunks = []
    probs = _inspector(model, quiet=as_json)
    for chunk in model.stream(prompt):
        if probs is not None:
            probs.feed(chunk)
        elif not as_json:
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
        chunks.append(chunk)
    result = Completion.collect(chunks)
    if cache is not None:
        cache.after()
    if as_json:
        report = completion_json(model.name, result)
        if probs is not None:
            report["probs"] = probs.records
        print(json.dumps(report, ensure_ascii=False))
        return 0
    if probs is not None:  # the candidates came token by token; now the answer whole
        sys.stdout.write(f"\n{result.text}")
    sys.stdout.write("\n")
    for notice in result.notices:
        print(f"note: {notice}", file=sys.stderr)
    if verbose:
        print(result.timing.speed_line(), file=sys.stderr)
    return 0


def _inspector(model: Model, *, quiet: bool) -> ProbsPrinter | None:
    """The --show-probs printer when the params ask for post-chain logprobs."""
    if not model.defaults.post_sampling_probs:
        return None
    write = (lambda _: None) if quiet else _write_now
    return ProbsPrinter(model.engine.piece, write)


def _write_now(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()

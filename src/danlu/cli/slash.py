"""Slash commands of the interactive chat, in a registry keyed by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from danlu.chat.messages import Message
from danlu.chat.sessions import Session, load_session, save_session
from danlu.chat.template import ChatTemplate
from danlu.cli.engine_flags import engine_line
from danlu.cli.probs import inspected
from danlu.engine.sampling import SamplingParams
from danlu.errors import DanluError, InvalidRequest
from danlu.prompts import PromptLibrary, parse_assignments

if TYPE_CHECKING:
    from danlu.cli.repl import Repl

# Friendly and llama.cpp/Ollama names for SamplingParams fields.
PARAM_ALIASES = {
    "temp": "temperature",
    "num_predict": "max_tokens",
    "n_predict": "max_tokens",
}
# SamplingParams fields the chat does not offer: JSON modes, tools and the server set them.
INTERNAL_PARAMS = frozenset(
    {"grammar", "grammar_trigger", "logit_bias", "logprobs", "post_sampling_probs"}
)
PROBS_TOP = 5  # candidates /probs shows when no number is given
SWITCH = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}


def chat_params() -> list[str]:
    """The sampling parameters /set changes and /show lists."""
    return [name for name in SamplingParams.model_fields if name not in INTERNAL_PARAMS]


@dataclass(frozen=True)
class SlashCommand:
    usage: str
    help: str
    run: Callable[[Repl, str], None]


def _set(repl: Repl, arg: str) -> None:
    name, _, value = arg.strip().partition(" ")
    if name in ("verbose", "quiet"):
        _set_verbose(repl, name, value.strip().lower())
        return
    field = PARAM_ALIASES.get(name, name)
    if name and field not in chat_params():
        names = [*chat_params(), *PARAM_ALIASES, "verbose"]
        raise InvalidRequest(f"unknown parameter '{name}'", hint=f"one of: {', '.join(names)}")
    if not name or not value.strip():
        raise InvalidRequest("usage: /set <param> <value>", hint="e.g. /set temperature 0.2")
    new: object = value.strip()
    if field == "stop":  # /set stop adds one more stop string
        new = (*repl.model.defaults.stop, new)
    repl.model.defaults = repl.model.params(**{field: new})
    repl.say(f"set {field} = {getattr(repl.model.defaults, field)!r}")


def _set_verbose(repl: Repl, name: str, value: str) -> None:
    """`/set verbose [on|off]`, and `/set quiet` for off."""
    on = False if name == "quiet" else SWITCH.get(value or "on")
    if on is None:
        raise InvalidRequest(f"/set verbose takes on or off, not '{value}'")
    repl.verbose = on
    repl.say(f"verbose is {'on' if repl.verbose else 'off'}")


def _system(repl: Repl, arg: str) -> None:
    repl.system = arg.strip() or None
    repl.say("system prompt set" if repl.system else "system prompt cleared")


def _clear(repl: Repl, arg: str) -> None:
    repl.messages.clear()
    repl.say("conversation cleared")


def _save(repl: Repl, arg: str) -> None:
    name = _need_name(arg, "/save NAME")
    overrides = repl.model.defaults.model_dump(exclude_defaults=True)
    session = Session(
        model=repl.model.name, system=repl.system, messages=repl.messages, params=overrides
    )
    path = save_session(repl.settings.sessions_dir, name, session)
    repl.say(f"saved {len(repl.messages)} message(s) to {path}")


def _load(repl: Repl, arg: str) -> None:
    name = _need_name(arg, "/load NAME")
    session = load_session(repl.settings.sessions_dir, name)
    repl.system = session.system
    repl.messages = list(session.messages)
    repl.model.defaults = repl.model.params(**session.params)
    note = "" if session.model == repl.model.name else f" (saved with {session.model})"
    repl.say(f"loaded {len(repl.messages)} message(s) from '{name}'{note}")


def _show(repl: Repl, arg: str) -> None:
    m = repl.model.manifest
    repl.say(f"model: {m.name} ({m.architecture}, {m.quantization}, {m.format})")
    repl.say(f"context: {repl.model.n_ctx} tokens, template: {repl.model.template.name}")
    repl.say(engine_line(repl.model))
    repl.say(f"system: {_effective_system(repl)}")
    values = repl.model.defaults.model_dump()
    for key in chat_params():
        repl.say(f"  {key} = {values[key]!r}")


def _effective_system(repl: Repl) -> str:
    """The system prompt the model sees: ours, else the one the template puts in."""
    if repl.system:
        return repl.system
    default = template_system_prompt(repl.model.template)
    return f"{default} (the template's default)" if default else "(none)"


def template_system_prompt(template: ChatTemplate) -> str | None:
    """The system prompt a template injects when the conversation has none.

    Rendered with a marker system prompt and without one: the default is whatever stands
    where the marker stood. None when the template adds nothing (or refuses a system turn).
    """
    marker, user = "\x00system\x00", [Message(role="user", content="hi")]
    try:
        with_marker = template.render(
            [Message(role="system", content=marker), *user], add_generation_prompt=False
        )
        without = template.render(user, add_generation_prompt=False)
    except DanluError:
        return None
    before, found, after = with_marker.partition(marker)
    fits = found and without.startswith(before) and without.endswith(after)
    if not fits or len(without) <= len(before) + len(after):
        return None
    return without[len(before) : len(without) - len(after)].strip() or None


def _probs(repl: Repl, arg: str) -> None:
    """`/probs` toggles the sampling inspector; `/probs K` shows K candidates; `/probs off`."""
    value = arg.strip().lower()
    on = repl.model.defaults.post_sampling_probs
    if value and value not in SWITCH and not value.isdigit():
        raise InvalidRequest(f"/probs takes a number, on or off, not '{value}'")
    if value.isdigit():
        top: int | None = int(value)
    elif SWITCH.get(value, not on):
        top = PROBS_TOP
    else:
        top = None
    repl.model.defaults = inspected(repl.model.defaults, top)
    shown = f"on, top {top} candidates after the sampler chain" if top is not None else "off"
    repl.say(f"sampling inspector {shown}")


def _prompt(repl: Repl, arg: str) -> None:
    """`/prompt NAME [key=value ...]` starts from a library prompt; `/prompt off` leaves it."""
    if not arg.split():
        raise InvalidRequest("usage: /prompt NAME [key=value ...]", hint="or /prompt off")
    name, *assignments = arg.split()
    if name == "off":
        repl.prompt, repl.system = None, repl.flag_system
        repl.say("prompt cleared")
        return
    filled = PromptLibrary(repl.settings.prompts_dir).get(name).fill(parse_assignments(assignments))
    repl.model.defaults = repl.model.params(**filled.prompt.sampling)
    repl.prompt, repl.system = filled, filled.system(repl.flag_system)
    repl.say(f"using prompt '{name}'")


def _help(repl: Repl, arg: str) -> None:
    for cmd in SLASH_COMMANDS.values():
        repl.say(f"{cmd.usage:<24} {cmd.help}")
    repl.say('"""                       begin/end a multi-line message')


def _bye(repl: Repl, arg: str) -> None:
    repl.running = False


def _need_name(arg: str, usage: str) -> str:
    name = arg.strip()
    if not name:
        raise InvalidRequest(f"usage: {usage}")
    return name


SLASH_COMMANDS: dict[str, SlashCommand] = {
    "set": SlashCommand("/set <param> <value>", "change a parameter; verbose on|off", _set),
    "system": SlashCommand("/system <text>", "set the system prompt", _system),
    "clear": SlashCommand("/clear", "forget the conversation", _clear),
    "save": SlashCommand("/save NAME", "save this chat", _save),
    "load": SlashCommand("/load NAME", "continue a saved chat", _load),
    "show": SlashCommand("/show", "model, context and parameters", _show),
    "prompt": SlashCommand("/prompt NAME [k=v ...]", "start from a library prompt", _prompt),
    "probs": SlashCommand("/probs [K|on|off]", "toggle the sampling inspector", _probs),
    "help": SlashCommand("/help, /?", "this list", _help),
    "bye": SlashCommand("/bye", "leave (or Ctrl-D)", _bye),
}
ALIASES = {"?": "help", "exit": "bye", "quit": "bye"}


def run_slash(repl: Repl, text: str) -> None:
    """Dispatch `/name args`; an unknown name lists the known ones."""
    name, _, arg = text[1:].partition(" ")
    command = SLASH_COMMANDS.get(ALIASES.get(name, name))
    if command is None:
        raise InvalidRequest(f"unknown command '/{name}'", hint="/? lists the commands")
    command.run(repl, arg)

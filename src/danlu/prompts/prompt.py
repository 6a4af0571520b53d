"""A library prompt: Jinja templates for the system prompt and the user's message, the
variables they take, and an optional suggested model and sampling settings.

Templates render in Jinja's immutable sandbox, as chat templates do (chat/template.py), with
every undefined name an error: a variable that is neither given nor defaulted is one
`MissingVariable` naming it, before anything renders. `input` is the one reserved name:
the text the user types, which the `user` template wraps (no `user` template: the text as
it is).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator

from danlu.engine.sampling import SamplingParams
from danlu.errors import InvalidRequest, MissingVariable

INPUT = "input"  # the user's own text, given to the `user` template
_NAME = re.compile(r"^[^\W_][\w-]{0,63}$")  # letters (any script), digits, '-', '_'


def check_name(name: str) -> str:
    """`name` if it can name a prompt (and a file); else InvalidRequest saying why."""
    if not _NAME.match(name):
        raise InvalidRequest(
            f"invalid prompt name '{name}'",
            hint="use letters, digits, '-' and '_', starting with a letter or digit, "
            "at most 64 characters",
        )
    return name


@cache
def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False
    )


class Prompt(BaseModel):
    """One prompt of the library, as stored in DANLU_HOME/prompts/NAME.json."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="The prompt's name: letters, digits, '-' and '_'.")
    description: str = Field("", description="One line saying what the prompt is for.")
    system: str | None = Field(None, description="Jinja template of the system prompt.")
    user: str | None = Field(
        None,
        description="Jinja template of the user's message; {{ input }} is what the user typed. "
        "None: the typed text is sent as it is.",
    )
    defaults: dict[str, str] = Field(
        default_factory=dict, description="Values of variables that are not given."
    )
    model: str | None = Field(None, description="The model this prompt was written for.")
    sampling: dict[str, Any] = Field(
        default_factory=dict,
        description="Suggested SamplingParams fields (temperature, top_p, ...); flags win.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("sampling")
    @classmethod
    def _sampling(cls, value: dict[str, Any]) -> dict[str, Any]:
        params = SamplingParams.build(None, **value)  # unknown or bad: InvalidParameter
        return {name: getattr(params, name) for name in value}  # typed: '0.4' is 0.4

    def variables(self) -> list[str]:
        """Every variable the templates use, `input` aside, in name order."""
        env, names = _environment(), set()
        for source in (self.system, self.user):
            if source:
                names |= meta.find_undeclared_variables(self._parse(env, source))
        return sorted(names - {INPUT})

    def required(self) -> list[str]:
        """The variables a caller must give: those without a default."""
        return [name for name in self.variables() if name not in self.defaults]

    def values(self, given: Mapping[str, str]) -> dict[str, str]:
        """The defaults under `given`; MissingVariable names the first one still missing."""
        unknown = sorted(set(given) - set(self.variables()))
        if unknown:
            raise InvalidRequest(
                f"prompt '{self.name}' has no variable '{unknown[0]}'",
                hint=f"its variables: {', '.join(self.variables()) or 'none'}",
            )
        missing = [name for name in self.required() if name not in given]
        if missing:
            raise MissingVariable(
                f"prompt '{self.name}' needs the variable '{missing[0]}'",
                hint=f"give it with --var {missing[0]}=VALUE",
            )
        return {**self.defaults, **given}

    def fill(self, given: Mapping[str, str]) -> Filled:
        """This prompt with its variables settled (MissingVariable if one is missing)."""
        return Filled(self, self.values(given))

    def render(self, given: Mapping[str, str], text: str | None = None) -> Rendered:
        """The system prompt and the user's message, variables filled from `given`."""
        values = self.values(given)
        system = self._render(self.system, values) if self.system else None
        user = text
        if self.user and text is not None:
            user = self._render(self.user, {**values, INPUT: text})
        return Rendered(system or None, user)

    def _render(self, source: str, values: Mapping[str, str]) -> str:
        env = _environment()
        try:
            return env.from_string(source).render(**values).strip()
        except jinja2.TemplateError as exc:
            raise InvalidRequest(f"prompt '{self.name}' did not render: {exc}") from None

    def _parse(self, env: ImmutableSandboxedEnvironment, source: str):
        try:
            return env.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            raise InvalidRequest(
                f"prompt '{self.name}' is not a valid Jinja template: {exc.message} "
                f"(line {exc.lineno})"
            ) from None


@dataclass(frozen=True)
class Rendered:
    """A prompt with its variables filled in."""

    system: str | None  # the system prompt, or None when the prompt has none
    user: str | None  # the user's message, wrapped by the prompt's user template


@dataclass(frozen=True)
class Filled:
    """A prompt and the values of its variables: what `run --use-prompt` and /prompt use."""

    prompt: Prompt
    values: dict[str, str]

    def system(self, flag_system: str | None = None) -> str | None:
        """The prompt's system prompt combined with --system (`combine_system`)."""
        return combine_system(self.prompt.render(self.values).system, flag_system)

    def message(self, text: str) -> str:
        """The user's `text` as the prompt's user template wraps it."""
        return self.prompt.render(self.values, text).user or text

    def sampling(self, flags: Mapping[str, Any]) -> dict[str, Any]:
        """The prompt's suggested settings under the flags given (None: not given)."""
        return {**self.prompt.sampling, **{k: v for k, v in flags.items() if v is not None}}


def combine_system(prompt_system: str | None, flag_system: str | None) -> str | None:
    """The rule for `--use-prompt` with `--system`: the prompt's system prompt first, then
    the --system text after a blank line (docs/prompts.md)."""
    parts = [part for part in (prompt_system, flag_system) if part]
    return "\n\n".join(parts) or None


def parse_assignments(items: Iterable[str], what: str = "--var") -> dict[str, str]:
    """`key=value` strings as a dict; one without '=' or with an empty key is an error."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidRequest(f"{what} takes key=value, not '{item}'")
        values[key.strip()] = value
    return values


def escape(text: str) -> str:
    """`text` as a template that renders to itself (imported prompts are plain text)."""
    if not any(mark in text for mark in ("{{", "{%", "{#")):
        return text
    pieces = text.split("{% endraw %}")  # the one string a raw block cannot hold
    joined = "{% endraw %}{{ '{% endraw %}' }}{% raw %}".join(pieces)
    return "{% raw %}" + joined + "{% endraw %}"

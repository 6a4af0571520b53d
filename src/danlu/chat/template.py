"""ChatTemplate: turns a list of Messages into the exact prompt text a model was trained on.

Templates are Hugging Face-style Jinja, rendered in a sandbox because a GGUF file's
template is untrusted input. The CLI, the server and training all format through
this one class, so a model is never chatted with in a format it was not tuned on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from danlu.chat.messages import Message
from danlu.chat.templates import NAMED_TEMPLATES
from danlu.errors import CorruptModel, InvalidRequest

GGUF_TEMPLATE = "gguf"
DEFAULT_FALLBACK = "chatml"


def _raise_exception(message: str) -> None:
    raise InvalidRequest(f"the chat template refused these messages: {message}")


def _tojson(value: Any, indent: int | None = None, **_: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _environment() -> ImmutableSandboxedEnvironment:
    # Same whitespace rules and helpers as transformers' apply_chat_template.
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.ChainableUndefined
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template plus the special tokens it refers to."""

    name: str
    source: str
    bos_token: str = ""
    eos_token: str = ""
    stop: tuple[str, ...] = field(default=())

    @cached_property
    def _compiled(self) -> jinja2.Template:
        try:
            return _environment().from_string(self.source)
        except jinja2.TemplateError as exc:
            raise CorruptModel(
                f"chat template '{self.name}' does not parse: {exc}",
                hint="pick a named template with --template (chatml, llama3, ...)",
            ) from None

    def render(
        self,
        messages: list[Message],
        *,
        add_generation_prompt: bool = True,
        tools: list[dict[str, Any]] | None = None,
    ) -> str:
        """The prompt text for `messages`, ending with the assistant header if asked."""
        context: dict[str, Any] = {
            "messages": [m.as_template_dict() for m in messages],
            "add_generation_prompt": add_generation_prompt,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
        }
        if tools:
            context["tools"] = tools
        try:
            return self._compiled.render(**context)
        except jinja2.TemplateError as exc:
            raise InvalidRequest(f"chat template '{self.name}' failed: {exc}") from None


def named_template(name: str, bos_token: str = "", eos_token: str = "") -> ChatTemplate:
    """One of the built-in fallbacks by name; an unknown name lists the known ones."""
    entry = NAMED_TEMPLATES.get(name)
    if entry is None:
        known = ", ".join(sorted(NAMED_TEMPLATES))
        raise InvalidRequest(f"unknown chat template '{name}'", hint=f"known: {known}")
    return ChatTemplate(name, entry.source(), bos_token, eos_token, entry.stop)


def resolve_template(
    embedded: str | None,
    override: str | None = None,
    *,
    bos_token: str = "",
    eos_token: str = "",
) -> ChatTemplate:
    """The template to chat with: an explicit name, else the model's own, else ChatML."""
    if override and override != GGUF_TEMPLATE:
        return named_template(override, bos_token, eos_token)
    if embedded:
        stop = (eos_token,) if eos_token else ()
        return ChatTemplate(GGUF_TEMPLATE, embedded, bos_token, eos_token, stop)
    return named_template(DEFAULT_FALLBACK, bos_token, eos_token)

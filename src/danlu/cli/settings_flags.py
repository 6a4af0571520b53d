"""Command-line options generated from a settings class: one per field, help from its doc.

typer reads a command's options from its signature, so `option` builds an
`inspect.Parameter` for a pydantic field (flag, help, the default shown) and
`from_settings` puts one per field of a class in place of a command's parameter. Every
option's own default is None: the command gets only the values given, and the class's
defaults, written once at the field, fill the rest.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Any

import typer
from pydantic_core import PydanticUndefined

from danlu.errors import InvalidRequest


def cli_type(annotation: Any) -> Any:
    """The type typer parses a field as; pydantic checks the value afterwards."""
    if typing.get_origin(annotation) is list:
        return str
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if annotation is bool or bool in args:
        return bool
    if annotation in (int, float) or (len(args) == 1 and args[0] in (int, float)):
        return args[0] if args else annotation
    return str  # text, paths, Literal choices, and lists given as "a,b,c"


def shown_default(field: Any) -> str:
    """' (default: ...)' for the help; lists as their flag takes them, a,b,c."""
    if field.is_required():
        return " (required)"
    value = field.default
    if value is PydanticUndefined or value is None:  # a factory's (machine, env), or unset
        return ""
    if isinstance(value, list):
        value = ",".join("on" if v is True else "off" if v is False else str(v) for v in value)
    return f" (default: {value})"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def option(
    name: str, field: Any, decls: Iterable[str] = (), help_prefix: str = ""
) -> inspect.Parameter:
    """The keyword parameter typer reads as `name`'s option (`--field-name` unless `decls`)."""
    kind = cli_type(field.annotation)
    decls = list(decls) or [_flag(name)]
    if kind is bool:
        decls = [f"{decls[-1]}/--no-{decls[-1].removeprefix('--')}"]
    help = help_prefix + (field.description or "") + shown_default(field)
    typed = typer.Option(None, *decls, help=help, show_default=False)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=typed, annotation=kind | None
    )


def _element(annotation: Any) -> Any:
    """A list field's element type, Annotated and Optional taken off: int, bool or other."""
    (inner,) = typing.get_args(annotation) or (str,)
    while typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    args = [a for a in typing.get_args(inner) if a is not type(None)]
    return args[0] if len(args) == 1 else inner


SWITCHES = {"on": True, "off": False, "1": True, "0": False}


def split(field: Any, text: str, flag: str) -> list[Any]:
    """A list field's value given as "a,b,c", each part read as the element type."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    element = _element(field.annotation)
    try:
        if element is bool:
            return [SWITCHES[part] for part in parts]
        if element is int:
            return [int(part) for part in parts]
    except (KeyError, ValueError):
        takes = "on, off or both (on,off)" if element is bool else "comma-separated integers"
        raise InvalidRequest(f"{flag} takes {takes}, not '{text}'") from None
    return parts


def from_settings(
    cls: Any,
    param: str,
    *,
    skip: Iterable[str] = (),
    flags: dict[str, tuple[str, ...]] | None = None,
    help_prefix: str = "",
) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """A decorator: `command` with one option per field of `cls` in place of `param`.

    The command receives `param` as a dict of the options given (lists split at commas),
    ready for `validated(cls, **values)`. `flags` names a field's flags when they are not
    `--field-name` (e.g. llama-bench's `-p`).
    """
    flags = {n: tuple((flags or {}).get(n, ())) or (_flag(n),) for n in cls.model_fields}
    fields = {n: f for n, f in cls.model_fields.items() if n not in set(skip)}

    def decorate(command: Callable[..., int]) -> Callable[..., int]:
        signature = inspect.signature(command, eval_str=True)
        params: list[inspect.Parameter] = []
        for p in signature.parameters.values():
            if p.name != param:
                params.append(p)
                continue
            for name, field in fields.items():
                made = option(name, field, flags[name], help_prefix)
                params.append(made.replace(kind=p.kind))

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> int:
            given = {}
            for name, field in fields.items():
                value = kwargs.pop(name, None)
                if value is None:
                    continue
                if typing.get_origin(field.annotation) is list and isinstance(value, str):
                    value = split(field, value, flags[name][0])
                given[name] = value
            return command(**kwargs, **{param: given})

        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate

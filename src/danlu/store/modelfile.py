"""The Modelfile, as Ollama writes it: FROM, PARAMETER, SYSTEM, TEMPLATE, ADAPTER, LICENSE.

One instruction per line (case-insensitive), `#` comments, and values that may span lines
inside triple quotes. Every problem is a `ModelfileError` naming its line. Parameters
keep Ollama's names here and are translated to danlu's sampling fields by `PARAMETERS`.
TEMPLATE takes a Jinja chat template (as in a model's tokenizer config) or the name of a
built-in one; Ollama's Go templates cannot run here and are refused with a hint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from danlu.errors import InvalidRequest


class ModelfileError(InvalidRequest):
    """A Modelfile line danlu cannot use."""

    code = "invalid_modelfile"


PARAMETERS: dict[str, tuple[str, type]] = {
    "temperature": ("temperature", float),
    "top_k": ("top_k", int),
    "top_p": ("top_p", float),
    "min_p": ("min_p", float),
    "repeat_penalty": ("repeat_penalty", float),
    "repeat_last_n": ("repeat_last_n", int),
    "presence_penalty": ("presence_penalty", float),
    "frequency_penalty": ("frequency_penalty", float),
    "seed": ("seed", int),
    "num_predict": ("max_tokens", int),
    "stop": ("stop", str),
    "num_ctx": ("n_ctx", int),
}
"""Ollama parameter name → (danlu field, type). `stop` may repeat; `n_ctx` is a load option."""


@dataclass
class Modelfile:
    """What a Modelfile asks for; `lines` says where each value came from (for errors)."""

    base: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    n_ctx: int | None = None
    system: str | None = None
    template: str | None = None
    adapters: list[str] = field(default_factory=list)
    license: str | None = None
    lines: dict[str, int] = field(default_factory=dict)


def parse_modelfile(text: str, source: str = "Modelfile") -> Modelfile:
    """Parse Modelfile `text`; ModelfileError('Modelfile line N: ...') on the first problem."""
    result = Modelfile()
    rows = text.splitlines()
    index = 0
    while index < len(rows):
        number, line = index + 1, rows[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        value, index = _value(rest.strip(), rows, index, source, number)
        handler = _HANDLERS.get(word.upper())
        if handler is None:
            known = ", ".join(_HANDLERS)
            raise _error(source, number, f"unknown instruction '{word}'", f"known: {known}")
        handler(result, value, _Where(source, number))
        result.lines.setdefault(word.upper(), number)
    if not result.base:
        raise ModelfileError(f"{source} has no FROM line", hint="start it with FROM <model name>")
    return result


@dataclass(frozen=True)
class _Where:
    source: str
    line: int

    def error(self, message: str, hint: str | None = None) -> ModelfileError:
        return _error(self.source, self.line, message, hint)


def _error(source: str, line: int, message: str, hint: str | None = None) -> ModelfileError:
    return ModelfileError(f"{source} line {line}: {message}", hint=hint)


def _value(rest: str, rows: list[str], index: int, source: str, number: int) -> tuple[str, int]:
    """The instruction's value: the rest of the line, or a triple-quoted block."""
    if not rest.startswith('"""'):
        return _unquote(rest), index
    body = rest[3:]
    if '"""' in body:
        return body[: body.index('"""')], index
    parts = [body]
    while index < len(rows):
        row = rows[index]
        index += 1
        if '"""' in row:
            parts.append(row[: row.index('"""')])
            return "\n".join(parts).strip("\n"), index
        parts.append(row)
    raise _error(source, number, 'a """ block is never closed', 'end it with """')


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\n", "\n")
    return value


def _from(mf: Modelfile, value: str, where: _Where) -> None:
    if not value:
        raise where.error("FROM needs a model name")
    mf.base = value


def _parameter(mf: Modelfile, value: str, where: _Where) -> None:
    key, _, raw = value.partition(" ")
    raw = _unquote(raw.strip())
    if key not in PARAMETERS:
        raise where.error(f"unknown parameter '{key}'", hint=f"known: {', '.join(PARAMETERS)}")
    if not raw:
        raise where.error(f"parameter '{key}' needs a value")
    name, kind = PARAMETERS[key]
    mf.lines.setdefault(f"PARAMETER {key}", where.line)
    try:
        typed = kind(raw)
    except ValueError:
        raise where.error(f"parameter '{key}' takes a {kind.__name__}, not '{raw}'") from None
    if name == "n_ctx":
        mf.n_ctx = typed
    elif name == "stop":
        mf.parameters.setdefault("stop", []).append(typed)
    else:
        mf.parameters[name] = typed


def _system(mf: Modelfile, value: str, where: _Where) -> None:
    mf.system = value


def _template(mf: Modelfile, value: str, where: _Where) -> None:
    if "{{ ." in value or "{{." in value or "{{- ." in value:
        raise where.error(
            "TEMPLATE is an Ollama Go template, which danlu cannot run",
            hint="give a Jinja chat template (as in tokenizer_config.json) or a built-in "
            "name such as chatml or llama3",
        )
    mf.template = value


def _adapter(mf: Modelfile, value: str, where: _Where) -> None:
    if not value:
        raise where.error("ADAPTER needs the path of a GGUF LoRA adapter")
    mf.adapters.append(value)


def _license(mf: Modelfile, value: str, where: _Where) -> None:
    mf.license = value


_HANDLERS = {
    "FROM": _from,
    "PARAMETER": _parameter,
    "SYSTEM": _system,
    "TEMPLATE": _template,
    "ADAPTER": _adapter,
    "LICENSE": _license,
}

"""A prompt as an Ollama Modelfile: FROM, PARAMETER for its sampling settings, SYSTEM.

`danlu create NAME -f` reads the result (store/modelfile.py), so the prompt becomes a model
of its own with the system prompt and the settings built in. The variables are filled
first. A Modelfile has no place for a per-message wrapper: a prompt's `user` template is
left out, with a comment saying so. Sampling fields Ollama has no PARAMETER for are left
out the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from danlu.errors import InvalidRequest
from danlu.prompts.prompt import Prompt
from danlu.store.modelfile import PARAMETERS

OLLAMA_NAMES = {field: key for key, (field, _) in PARAMETERS.items()}  # danlu field → Ollama


def to_modelfile(prompt: Prompt, values: Mapping[str, str], model: str) -> str:
    """The Modelfile text for `prompt` with `values` filled in, built on `model`."""
    rendered = prompt.render(values)
    lines = [
        f"# danlu prompt '{prompt.name}'"
        + (f": {prompt.description}" if prompt.description else "")
    ]
    lines.append(f"FROM {model}")
    lines += _parameters(prompt.sampling)
    if rendered.system:
        if '"""' in rendered.system:
            raise InvalidRequest(
                f'prompt \'{prompt.name}\' has """ in its system prompt, '
                "which a Modelfile cannot quote"
            )
        lines.append(f'SYSTEM """{rendered.system}"""')
    if prompt.user:
        lines.append("# its user template wraps each message; a Modelfile cannot say that")
    return "\n".join(lines) + "\n"


def _parameters(sampling: Mapping[str, object]) -> list[str]:
    lines = []
    for field, value in sampling.items():
        key = OLLAMA_NAMES.get(field)
        if key is None:
            lines.append(f"# {field} = {value!r}: no Modelfile PARAMETER for it")
        elif field == "stop":
            stops = [value] if isinstance(value, str) else list(value)  # type: ignore[arg-type]
            lines += [f"PARAMETER stop {_quoted(s)}" for s in stops]
        else:
            lines.append(f"PARAMETER {key} {value}")
    return lines


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '\\"').replace("\n", "\\n") + '"'

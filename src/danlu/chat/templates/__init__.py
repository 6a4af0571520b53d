"""Named chat templates used when a model carries none of its own.

One Jinja file per format in this folder; the table below adds what the file
cannot say: the strings that end an assistant turn in that format.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class NamedTemplate:
    """A fallback template: its Jinja source file and its end-of-turn strings."""

    filename: str
    stop: tuple[str, ...]

    def source(self) -> str:
        return resources.files(__package__).joinpath(self.filename).read_text(encoding="utf-8")


NAMED_TEMPLATES: dict[str, NamedTemplate] = {
    "chatml": NamedTemplate("chatml.jinja", ("<|im_end|>",)),
    "llama2": NamedTemplate("llama2.jinja", ("[INST]",)),
    "llama3": NamedTemplate("llama3.jinja", ("<|eot_id|>",)),
    "mistral": NamedTemplate("mistral.jinja", ("[INST]",)),
    "alpaca": NamedTemplate("alpaca.jinja", ("### Instruction:",)),
}

"""Backends by name, found through the `danlu.backends` entry-point group.

Built-in backends register in danlu's own pyproject.toml exactly as a
third-party package would in its own, so there is one path for both.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from danlu.engine.base import Engine, LoadOptions, Vocabulary
from danlu.errors import BackendError

GROUP = "danlu.backends"


def backend_names() -> list[str]:
    """Names of every installed backend."""
    return sorted(ep.name for ep in entry_points(group=GROUP))


def backend_class(name: str) -> type:
    """The class registered under `name`; an unknown name lists the installed ones."""
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    known = ", ".join(backend_names()) or "none"
    raise BackendError(
        f"no inference backend named '{name}' is installed",
        hint=f"installed backends: {known}; convert the model to GGUF with `danlu export`",
    )


def open_engine(backend: str, path: Path, options: LoadOptions) -> Engine:
    """Load `path` with the named backend."""
    return backend_class(backend)(path, options)


def open_vocabulary(backend: str, path: Path, options: LoadOptions) -> Vocabulary:
    """The tokenizer of `path` alone, where the backend offers it (a class attribute
    `vocabulary`); else the whole model, which is a vocabulary too."""
    cls = backend_class(backend)
    return getattr(cls, "vocabulary", cls)(path, options)

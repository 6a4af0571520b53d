"""The prompt library: danlu's built-in prompts and the user's own under DANLU_HOME/prompts.

A user prompt is one JSON file, `NAME.json`, written atomically; one with a built-in's name
stands in for the built-in (remove it and the built-in is back). Built-ins ship as package
data (`prompts/builtin/*.json`) and cannot be removed. A CSV of `act,prompt` rows, the
layout of the public prompt collections, imports as one prompt per row: the act becomes
the name (lower case, words joined by '-'), the prompt text the system prompt.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from danlu.atomic import write_text_atomic
from danlu.engine.sampling import describe_validation_error
from danlu.errors import InvalidRequest, PromptNotFound
from danlu.prompts.prompt import Prompt, check_name, escape

BUILTIN = "builtin"
USER = "user"


@dataclass(frozen=True)
class Entry:
    """A prompt and where it comes from: 'builtin' or 'user'."""

    prompt: Prompt
    source: str


@dataclass(frozen=True)
class Imported:
    """What a CSV import did: the names added, and the rows left out (line, reason)."""

    added: tuple[str, ...]
    skipped: tuple[tuple[int, str], ...]


class PromptLibrary:
    """The prompts one DANLU_HOME sees: the user's folder over the built-ins."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def entries(self) -> list[Entry]:
        """Every prompt, by name; a user prompt hides a built-in of the same name."""
        found = {e.prompt.name: e for e in _builtins()}
        for path in sorted(self.folder.glob("*.json")):
            found[path.stem] = Entry(_read(path), USER)
        return [found[name] for name in sorted(found)]

    def get(self, name: str) -> Prompt:
        """The prompt `name`; PromptNotFound names the prompts there are."""
        check_name(name)
        path = self._path(name)
        if path.is_file():
            return _read(path)
        for entry in _builtins():
            if entry.prompt.name == name:
                return entry.prompt
        known = ", ".join(e.prompt.name for e in self.entries())
        raise PromptNotFound(f"no prompt named '{name}'", hint=f"known: {known}")

    def add(self, prompt: Prompt, *, replace: bool = False) -> Path:
        """Save `prompt`; an existing user prompt of that name needs `replace`."""
        prompt.variables()  # a template that does not parse is refused before it is saved
        path = self._path(prompt.name)
        if path.exists() and not replace:
            raise InvalidRequest(
                f"prompt '{prompt.name}' already exists", hint="--force replaces it"
            )
        text = json.dumps(prompt.model_dump(exclude_defaults=True), ensure_ascii=False, indent=2)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text + "\n")
        return path

    def remove(self, name: str) -> None:
        """Delete the user prompt `name`; built-ins cannot be removed."""
        path = self._path(check_name(name))
        if path.is_file():
            path.unlink()
            return
        if any(e.prompt.name == name for e in _builtins()):
            raise InvalidRequest(f"'{name}' is a built-in prompt and cannot be removed")
        raise PromptNotFound(f"no prompt named '{name}'", hint="danlu prompt list shows them")

    def import_csv(self, path: Path, *, replace: bool = False) -> Imported:
        """One prompt per `act,prompt` row of the CSV at `path`."""
        added: list[str] = []
        skipped: list[tuple[int, str]] = []
        for line, act, text in _csv_rows(path):
            name = slug(act)
            if not name or not text.strip():
                skipped.append((line, "no act or no prompt"))
                continue
            if name in added or (self._path(name).exists() and not replace):
                skipped.append((line, f"'{name}' already exists"))
                continue
            self.add(Prompt(name=name, description=act.strip(), system=escape(text)), replace=True)
            added.append(name)
        return Imported(tuple(added), tuple(skipped))

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.json"


def slug(act: str) -> str:
    """A prompt name from a collection's act: 'Linux Terminal' → 'linux-terminal'."""
    words = re.findall(r"[^\W_]+", act.lower())
    return "-".join(words)[:64].strip("-")


def _csv_rows(path: Path):
    """(line, act, prompt) for each data row; a file without those columns is an error."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            columns = {(c or "").strip().lower(): c for c in reader.fieldnames or ()}
            if "act" not in columns or "prompt" not in columns:
                raise InvalidRequest(
                    f"'{path}' has no act,prompt header",
                    hint="the first line must name the columns: act,prompt",
                )
            for row in reader:
                act, text = row[columns["act"]] or "", row[columns["prompt"]] or ""
                yield reader.line_num, act, text
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidRequest(f"cannot read '{path}': {exc}") from None


def _read(path: Path) -> Prompt:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Prompt(**data)
    except (OSError, ValueError) as exc:
        detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else exc
        raise InvalidRequest(f"prompt file '{path}' is damaged: {detail}") from None


def _builtins() -> list[Entry]:
    folder = resources.files("danlu.prompts") / BUILTIN
    entries = []
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if item.name.endswith(".json"):
            entries.append(Entry(Prompt(**json.loads(item.read_text(encoding="utf-8"))), BUILTIN))
    return entries

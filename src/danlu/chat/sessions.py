"""Saved chats under DANLU_HOME/sessions/<name>.json (the REPL's /save and /load)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from danlu.atomic import write_text_atomic
from danlu.chat.messages import Message
from danlu.errors import InvalidRequest, StoreError
from danlu.store.names import validate_name


class Session(BaseModel):
    """A conversation with the model and settings it was held with."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Name of the model the chat was held with.")
    system: str | None = Field(None, description="System prompt, if any.")
    messages: list[Message] = Field(default_factory=list, description="Turns, oldest first.")
    params: dict[str, Any] = Field(default_factory=dict, description="Sampling overrides.")


def session_path(directory: Path, name: str) -> Path:
    return directory / f"{validate_name(name, kind='chat')}.json"


def save_session(directory: Path, name: str, session: Session) -> Path:
    """Write the session atomically; returns where it went."""
    path = session_path(directory, name)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, session.model_dump_json(indent=2, exclude_none=True))
    except OSError as exc:
        raise StoreError(f"cannot save session '{name}': {exc.strerror or exc}") from None
    return path


def load_session(directory: Path, name: str) -> Session:
    path = session_path(directory, name)
    if not path.exists():
        known = sorted(p.stem for p in directory.glob("*.json")) if directory.exists() else []
        hint = f"saved sessions: {', '.join(known)}" if known else "save one with /save NAME"
        raise InvalidRequest(f"no saved session named '{name}'", hint=hint)
    try:
        return Session.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        raise StoreError(
            f"session file '{path}' is unreadable or corrupt", hint="delete it or save again"
        ) from None

"""Model names: one validation rule for every name that becomes a path on disk.

A name is a folder under `models/` (and a file stem for saved sessions), so it must
never be able to point anywhere else: no separators, no `..`, a bounded length.
"""

from __future__ import annotations

import re

from danlu.errors import InvalidRequest

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,63}$")
NAME_RULE = "1-64 characters: a-z 0-9 . _ : -, starting with a letter or digit, no '..'"


def validate_name(name: str, kind: str = "model") -> str:
    """Return `name` lower-cased, or raise InvalidRequest if it cannot be a `kind` name
    (the same rule serves model names and saved chat names)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest(f"a {kind} name cannot be empty", hint=NAME_RULE)
    lowered = name.strip().lower()
    if "/" in lowered or "\\" in lowered or ".." in lowered or not NAME_PATTERN.match(lowered):
        raise InvalidRequest(f"'{name}' is not a valid {kind} name", hint=NAME_RULE)
    return lowered


def sanitize_name(text: str, fallback: str = "model") -> str:
    """Turn a file or folder name into a valid model name (best effort, never raises)."""
    name = re.sub(r"[^a-z0-9._:-]+", "-", text.lower())
    name = re.sub(r"\.{2,}", ".", name)
    name = re.sub(r"-{2,}", "-", name)
    name = name.lstrip("._:-")[:64].rstrip("._:-")
    return name if NAME_PATTERN.match(name) else fallback

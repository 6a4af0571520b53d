"""Optional dependency groups ("extras"): import a heavy module only when a feature needs it.

`pip install danlu` stays light; knowledge bases, training and the like import their
stacks inside the functions that use them, through `require`, so that a missing extra
is one clear error naming the extra to install instead of an ImportError deep inside.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from types import ModuleType

from danlu.errors import MissingExtra


def require(module: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import `module`, or raise MissingExtra naming the `extra` that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = feature or f"danlu {extra}"
        raise MissingExtra(
            f"{what} needs the '{extra}' extra ({module} is not installed)",
            hint=f"pip install 'danlu[{extra}]'",
        ) from exc


_EXTRA = re.compile(r"""extra\s*==\s*["']([\w-]+)["']""")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_SELF = re.compile(r"^danlu\[([\w,-]+)\]")


def missing_by_extra() -> dict[str, list[str]]:
    """Each extra of danlu's own metadata, with the distributions of it that are not
    installed (an empty list: the extra is complete). `danlu doctor` prints it."""
    try:
        requirements = importlib.metadata.requires("danlu") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    extras: dict[str, list[str]] = {}
    nested: dict[str, list[str]] = {}  # export needs danlu[train]: train's gaps are its own
    for requirement in requirements:
        extra, name = _EXTRA.search(requirement), _NAME.match(requirement)
        if extra is None or name is None:
            continue
        missing = extras.setdefault(extra.group(1), [])
        if found := _SELF.match(requirement):
            nested.setdefault(extra.group(1), []).extend(found.group(1).split(","))
        elif not _installed(name.group(0)):
            missing.append(name.group(0))
    for extra, others in nested.items():
        for other in others:
            extras[extra] += [m for m in extras.get(other, []) if m not in extras[extra]]
    return extras


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True

"""Which files an add or sync reads: folders walked in sorted order, links judged.

1. Each given path is resolved (a link named on the command line is the user's choice)
   and must lie under the policy's roots, if it has any.
2. Folders are walked recursively; hidden entries (a name starting with '.') are skipped.
3. A symbolic link is followed when its target stays inside the folder being added, or
   when the policy allows following links out of it (and the target is under the roots).
   Others, and broken links, are reported as skipped. A followed link is keyed by its
   target, so a file reached twice is read once; a folder is walked once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from danlu.errors import InvalidRequest
from danlu.kb.policy import ReadPolicy


@dataclass
class Found:
    """Files to read (absolute, no duplicates) and entries passed over, with why;
    `roots` are the given paths, resolved (what an add remembers for sync)."""

    roots: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def checked_roots(paths: list[Path], policy: ReadPolicy) -> list[Path]:
    """The given paths resolved; outside the roots is PathNotAllowed, missing an error."""
    resolved = [policy.check(p) for p in paths]
    for given, path in zip(paths, resolved, strict=True):
        if not path.exists():
            raise InvalidRequest(
                f"no such file or folder: {given}", hint="nothing was added; check the path"
            )
    return resolved


def discover(paths: list[Path], policy: ReadPolicy) -> Found:
    """Every file under `paths` that the policy lets an add read (see the module doc)."""
    found, seen = Found(checked_roots(paths, policy)), set()
    files: dict[Path, None] = {}
    for root in found.roots:
        if root.is_file():
            files[root] = None
            continue
        under: list[Path] = []
        walk(root, root, policy, seen, under, found.skipped)
        files.update(dict.fromkeys(sorted(under)))
    found.files = list(files)
    return found


def walk(
    folder: Path,
    root: Path,
    policy: ReadPolicy,
    seen: set[Path],
    into: list[Path],
    skipped: list[tuple[str, str]],
) -> None:
    """Files under `folder` into `into`; links judged against `root` (both resolved)."""
    stack = [folder]
    seen.add(folder)
    while stack:
        try:
            entries = sorted(os.scandir(stack.pop()), key=lambda e: e.name)
        except OSError as exc:
            skipped.append((str(exc.filename), f"cannot be listed ({exc.strerror})"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = link_target(Path(entry.path), root, policy, skipped)
            if path is None:
                continue
            if path.is_dir() and path not in seen:
                seen.add(path)
                stack.append(path)
            elif path.is_file():
                into.append(path)


def link_target(
    path: Path, root: Path, policy: ReadPolicy, skipped: list[tuple[str, str]]
) -> Path | None:
    """`path` itself, a link's target when it may be followed, or None (reported)."""
    if not path.is_symlink():
        return path
    target = path.resolve()
    if not target.exists():
        skipped.append((str(path), "a broken symbolic link"))
        return None
    if not policy.may_follow(target, root):
        why = "follow links to read it" if policy.allows(target) else "outside the roots"
        skipped.append((str(path), f"a symbolic link out of {root} to {target} ({why})"))
        return None
    return target

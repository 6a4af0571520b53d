"""A full disk as one typed error: which folder, how much it needs, and that nothing stored
before was lost.

Writers of big things (a knowledge base's SQLite file, a dequantized training base, an
export's GGUF) run inside `disk_full_as_error(folder, needed)`. A full disk reaches them in
several shapes: OSError with ENOSPC, SQLite's "database or disk is full", safetensors' "No
space left on device". Each becomes DiskFull naming the folder and the free and needed
space, so the CLI prints one line and the server answers 507.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from danlu.errors import DiskFull
from danlu.units import human_size

_FULL_MESSAGES = ("database or disk is full", "no space left on device", "disk quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc`, or an exception it was raised from, says the disk is full."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(text in str(seen).lower() for text in _FULL_MESSAGES):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def free_bytes(folder: Path) -> int | None:
    """Free space under `folder` (its nearest existing parent), or None if unknown."""
    for candidate in (Path(folder), *Path(folder).parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def disk_full(folder: Path, needed: int | None = None) -> DiskFull:
    """The DiskFull error for `folder`, with the free and needed space where known."""
    free = free_bytes(folder)
    space = f"{human_size(free)} free" if free is not None else "no space left"
    if needed:
        space += f", about {human_size(needed)} needed"
    return DiskFull(
        f"the disk under {folder} is full ({space})",
        hint="free some space or point DANLU_HOME at a larger disk, then run the command "
        "again; what was stored before is intact",
    )


@contextmanager
def disk_full_as_error(folder: Path, needed: int | None = None) -> Iterator[None]:
    """Run a write; a full disk in any of its shapes raises DiskFull for `folder`."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise disk_full(folder, needed) from None
        raise

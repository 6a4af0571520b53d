"""Crash-safe file operations: atomic writes, atomic copies, hard links and hashing.

Every write goes to a temporary name in the destination folder, is flushed and
fsynced, then renamed over the target, so a reader sees the old file or the new
one and never half of either.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from danlu.progress import Progress

CHUNK = 1 << 20  # 1 MiB: large enough to stream at disk speed, small enough for progress


def fsync_dir(path: Path) -> None:
    """Persist a rename in `path` (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_sibling(path: Path) -> Path:
    """A hidden, unique name next to `path`, on the same filesystem."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temp path; on success rename it over `path`, on failure delete it."""
    tmp = temp_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with replacing(Path(path)) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> None:
    write_bytes_atomic(path, text.encode(encoding))


FICLONE = 0x40049409  # Linux ioctl: the copy shares the source's blocks copy-on-write


def _clone(fin: BinaryIO, fout: BinaryIO) -> bool:
    """A reflink copy where the filesystem has them (btrfs, XFS, APFS-like); else False."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        return False
    try:
        fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())
    except OSError:
        return False
    return True


def copy_file_atomic(src: Path, dst: Path, progress: Progress | None = None) -> str | None:
    """Copy `src` to `dst` under a temp name, then rename into place.

    A reflink when the filesystem offers one (instant, no extra space, and still an
    independent file; returns None), else a copy in 1 MiB chunks that hashes the bytes
    on the way (returns their hex SHA-256, so nobody need read them again). `progress`
    hears ("copying NAME", bytes done, bytes in all).
    """
    total = Path(src).stat().st_size
    label = f"copying {Path(src).name}"
    with replacing(Path(dst)) as tmp, open(src, "rb") as fin, open(tmp, "wb") as fout:
        digest = None
        if _clone(fin, fout):
            if progress:
                progress(label, total, total)
        else:
            digest = _copy_chunks(fin, fout, total, _labelled(progress, label))
        fout.flush()
        os.fsync(fout.fileno())
    return digest


def _labelled(progress: Progress | None, label: str) -> Callable[[int, int], None] | None:
    return (lambda done, total: progress(label, done, total)) if progress else None


def _copy_chunks(
    fin: BinaryIO, fout: BinaryIO, total: int, progress: Callable[[int, int], None] | None
) -> str:
    digest = hashlib.sha256()
    done = 0
    while chunk := fin.read(CHUNK):
        fout.write(chunk)
        digest.update(chunk)
        done += len(chunk)
        if progress:
            progress(done, total)
    return digest.hexdigest()


def place_file(src: Path, dst: Path) -> bool:
    """Put `src` at `dst`: a hard link when the filesystem allows, else an atomic copy.

    Hard links are for files nobody edits in place (hub cache blobs, the store's own
    files); a user's own file is copied instead (`copy_file_atomic`). Symlinks (as in
    the Hugging Face cache) are resolved first, so the link points at the real blob.
    Returns True when hard-linked.
    """
    real = Path(src).resolve(strict=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(real, dst)
        return True
    except (FileExistsError, FileNotFoundError):
        raise
    except OSError:  # cross-device, no hard-link support, link limit reached, ...
        copy_file_atomic(real, dst)
        return False


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    """Hex SHA-256 of a file, streamed in 1 MiB chunks; `progress` hears ("hashing NAME",
    bytes done, bytes in all)."""
    digest = hashlib.sha256()
    total = Path(path).stat().st_size
    label = f"hashing {Path(path).name}"
    done = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(label, done, total)
    if progress and total == 0:
        progress(label, 0, 0)
    return digest.hexdigest()

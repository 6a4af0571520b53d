"""Put a model into the store all-or-nothing.

A model is assembled in a hidden `.staging-*` folder (files first, manifest last)
and renamed to `models/<name>` in one step, so a crash or an error never leaves a
half model; removal renames to a hidden `.trash-*` folder before deleting.

A process killed outright (SIGKILL, power loss) cannot clean up after itself, so a
staging folder carries its writer's pid (`.staging-<name>@<pid>-<hex>`) and every later
write to the store sweeps the folders whose writer is gone (`sweep_stale`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from danlu.atomic import copy_file_atomic, fsync_dir, place_file, sha256_file
from danlu.errors import ModelExists
from danlu.progress import Progress
from danlu.store.hf_info import model_files
from danlu.store.manifest import (
    BACKEND_FOR_FORMAT,
    MANIFEST_NAME,
    Manifest,
    ModelInfo,
    utc_now,
    write_manifest,
)

HIDDEN_PREFIXES = (".staging-", ".trash-")
LEGACY_STALE_SECONDS = 3600
"""A staging folder named before writers recorded their pid counts as stale after this."""


def exists_error(
    name: str, *, rename: str = "pick another name with --name", removable: bool = True
) -> ModelExists:
    """ModelExists with a hint that fits: how to rename depends on the command (`cp` takes a
    new name, not --name), and a built-in model cannot be removed to make room."""
    if removable:
        hint = f"{rename}, or remove it first with `danlu rm {name}`"
    else:
        hint = f"{rename}; the built-in '{name}' cannot be removed"
    return ModelExists(f"a model named '{name}' already exists", hint=hint)


@contextlib.contextmanager
def staged_model(models_dir: Path, name: str, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty hidden folder; on success it becomes `models_dir/name`.

    `replace=True` discards an existing model of that name at the last moment.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(models_dir)
    stage = models_dir / f".staging-{name}@{os.getpid()}-{secrets.token_hex(4)}"
    stage.mkdir()
    try:
        yield stage
        if replace and (models_dir / name).exists():
            discard_folder(models_dir / name)
        _publish(stage, models_dir / name)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def sweep_stale(models_dir: Path) -> list[str]:
    """Delete hidden folders left by writers that died: trash always, a staging folder
    when the process that made it is gone. Returns the names swept."""
    swept = []
    for folder in models_dir.iterdir() if models_dir.is_dir() else ():
        if folder.is_dir() and _is_stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder.name)
    return swept


def _is_stale(folder: Path) -> bool:
    if folder.name.startswith(".trash-"):
        return True  # already out of the catalog: a removal that did not finish
    if not folder.name.startswith(".staging-"):
        return False
    owner = folder.name.rpartition("@")[2].partition("-")[0]
    if "@" in folder.name and owner.isdigit():
        return not _alive(int(owner))
    try:  # named before pids were recorded: judge by age
        return time.time() - folder.stat().st_mtime > LEGACY_STALE_SECONDS
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _publish(stage: Path, final: Path) -> None:
    try:
        os.rename(stage, final)  # atomic; fails if `final` holds anything
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) or final.exists():
            raise exists_error(final.name) from None
        raise
    fsync_dir(final.parent)


def discard_folder(folder: Path) -> None:
    """Delete a model folder; it disappears from the catalog at the first (atomic) step."""
    trash = folder.with_name(f".trash-{folder.name}-{secrets.token_hex(4)}")
    os.rename(folder, trash)
    fsync_dir(folder.parent)
    shutil.rmtree(trash, ignore_errors=True)


def build_manifest(
    name: str,
    info: ModelInfo,
    files: list[str],
    main: Path,
    *,
    size: int,
    source: str,
    progress: Progress | None = None,
    builtin: bool = False,
    sha256: str | None = None,
) -> Manifest:
    """A manifest for files already in place; hashes the main file unless `sha256` is
    already known (a copy hashes what it reads)."""
    return Manifest(
        name=name,
        format=info.format,
        backend=BACKEND_FOR_FORMAT[info.format],
        files=files,
        architecture=info.architecture,
        parameters=info.parameters,
        quantization=info.quantization,
        context_length=info.context_length,
        chat_template=info.chat_template,
        license=info.license,
        size=size,
        sha256=sha256 or sha256_file(main, progress),
        source=source,
        created=utc_now(),
        builtin=builtin,
    )


def stage_gguf(
    stage: Path,
    name: str,
    src: Path,
    info: ModelInfo,
    *,
    source: str,
    progress: Progress | None = None,
    reference: bool = False,
    builtin: bool = False,
    link: bool = True,
) -> Manifest:
    """Link/copy a GGUF file into `stage` (or reference it in place) and write the manifest.

    `link=False` always copies (see `put_file`)."""
    digest = None
    if reference:
        main = Path(src).resolve(strict=True)
        files = [str(main)]
    else:
        filename = src.name if src.name != MANIFEST_NAME else "model.gguf"
        main = stage / filename
        digest = put_file(src, main, link, progress)
        files = [filename]
    size = main.stat().st_size
    manifest = build_manifest(
        name,
        info,
        files,
        main,
        size=size,
        source=source,
        progress=progress,
        builtin=builtin,
        sha256=digest,
    )
    write_manifest(stage, manifest)
    return manifest


def stage_hf(
    stage: Path,
    name: str,
    folder: Path,
    info: ModelInfo,
    *,
    source: str,
    progress: Progress | None = None,
    link: bool = True,
) -> Manifest:
    """Link/copy a Hugging Face folder's files into `stage` and write the manifest."""
    files = model_files(folder)
    digests = [
        put_file(folder / f, stage / f, link, progress if i == 0 else None)
        for i, f in enumerate(files)
    ]
    size = sum((stage / f).stat().st_size for f in files)
    main = stage / files[0]
    manifest = build_manifest(
        name, info, files, main, size=size, source=source, progress=progress, sha256=digests[0]
    )
    write_manifest(stage, manifest)
    return manifest


def put_file(src: Path, dst: Path, link: bool, progress: Progress | None) -> str | None:
    """Hard-link `src` (`link`: hub blobs) or copy it (a user's own file, which they may
    rewrite later). Returns the SHA-256 when the copy read every byte anyway."""
    if link:
        place_file(src, dst)
        return None
    return copy_file_atomic(Path(src).resolve(strict=True), dst, progress)


def stage_copy(stage: Path, name: str, manifest: Manifest, src_dir: Path) -> Manifest:
    """A second name for a model: hard links to its own files, same absolute references."""
    for entry in manifest.files:
        if not Path(entry).is_absolute():
            place_file(src_dir / entry, stage / entry)
    copied = manifest.model_copy(update={"name": name, "builtin": False, "created": utc_now()})
    write_manifest(stage, copied)
    return copied

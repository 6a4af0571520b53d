"""`danlu list | show | import | pull | rm | cp`: the local model store from the terminal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from danlu.cli.progress import bar
from danlu.cli.provenance import print_derivation
from danlu.config import Settings
from danlu.store import Catalog, Manifest
from danlu.units import human_params, human_size


def _catalog() -> Catalog:
    return Catalog(Settings())


def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> int:
    """List the models in the local store, marking those whose files are missing or damaged."""
    catalog = _catalog()
    listing = catalog.list()
    checks = {m.name: catalog.check_files(m) for m in listing.models}
    for problem in listing.problems:
        print(f"warning: {problem}", file=sys.stderr)
    for check in checks.values():
        if check.reason:
            print(f"warning: {check.reason} ({check.hint})", file=sys.stderr)
    if as_json:
        rows = [{**m.model_dump(), "status": checks[m.name].state} for m in listing.models]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("NAME", "FORMAT", "PARAMS", "QUANT", "SIZE", "CTX", "STATUS"):
        table.add_column(column)
    for m in listing.models:
        ctx = str(m.context_length) if m.context_length else "-"
        table.add_row(
            m.name,
            m.format,
            human_params(m.parameters),
            m.quantization or "-",
            human_size(m.size),
            ctx,
            checks[m.name].state,
        )
    Console(soft_wrap=True).print(table)
    return 0


def show(
    name: Annotated[str, typer.Argument(help="Model name.")],
    as_json: Annotated[bool, typer.Option("--json", help="All metadata as JSON.")] = False,
    template: Annotated[bool, typer.Option("--template", help="Only the chat template.")] = False,
) -> int:
    """Show a model's metadata, chat template and files."""
    catalog = _catalog()
    manifest = catalog.get(name)
    files = [str(p) for p in manifest.file_paths(catalog.model_dir(name))]
    if as_json:
        print(json.dumps({**manifest.model_dump(), "paths": files}, ensure_ascii=False, indent=2))
    elif template:
        fallback = manifest.template or "chatml"
        print(manifest.chat_template or f"(none: the named '{fallback}' template is used)")
    else:
        _print_manifest(manifest, files)
        _print_engine_defaults(manifest)
    return 0


def _print_engine_defaults(manifest: Manifest) -> None:
    from danlu.load_defaults import default_rows

    print("  engine defaults (change with danlu run/serve flags, see docs/engine.md)")
    rows = default_rows(manifest, Settings())
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"    {key:<{width}} {value}")


def _print_manifest(m: Manifest, files: list[str]) -> None:
    rows = {
        "name": m.name,
        "format": m.format,
        "backend": m.backend,
        "architecture": m.architecture or "-",
        "parameters": human_params(m.parameters),
        "quantization": m.quantization or "-",
        "context length": m.context_length or "-",
        "size": human_size(m.size),
        "license": m.license or "-",
        "source": m.source,
        "sha256": m.sha256,
        "created": m.created,
    }
    for key, value in rows.items():
        print(f"  {key:<15} {value}")
    print("  files")
    for f in files:
        print(f"    {f}")
    print("  chat template")
    template = m.chat_template or f"(none: the named '{m.template or 'chatml'}' template is used)"
    for line in template.splitlines():
        print(f"    {line}")
    print_derivation(m)


def import_model(
    path: Annotated[Path, typer.Argument(help="A .gguf file or a Hugging Face model folder.")],
    name: Annotated[str | None, typer.Option("--name", help="Name in the store.")] = None,
    in_place: Annotated[
        bool,
        typer.Option(
            "--in-place",
            help="Record the .gguf file's path instead of copying it (no extra disk space; "
            "the model then follows that file: it is gone if the file moves).",
        ),
    ] = False,
) -> int:
    """Add a local GGUF file or Hugging Face folder to the store (as a copy by default)."""
    with bar("bytes", f"importing {path.name}", transient=True) as progress:
        manifest = _catalog().import_path(path, name, progress=progress, reference=in_place)
    print(f"imported {manifest.name} ({manifest.format}, {human_size(manifest.size)})")
    return 0


def pull(
    ref: Annotated[str, typer.Argument(help="org/repo, org/repo:QUANT or org/repo/file.gguf")],
    name: Annotated[str | None, typer.Option("--name", help="Name in the store.")] = None,
) -> int:
    """Download a model from the Hugging Face hub into the store."""
    with bar("bytes", f"downloading {ref}", transient=True) as progress:
        manifest = _catalog().pull(ref, name, download=progress, progress=progress)
    print(f"pulled {manifest.name} ({manifest.format}, {human_size(manifest.size)})")
    return 0


def remove(names: Annotated[list[str], typer.Argument(help="Model name(s).")]) -> int:
    """Delete models from the store."""
    catalog = _catalog()
    for name in names:
        catalog.remove(name)
        print(f"deleted {name}")
    return 0


def copy(
    src: Annotated[str, typer.Argument(help="Existing model.")],
    dst: Annotated[str, typer.Argument(help="New name.")],
) -> int:
    """Copy a model under a new name (files are shared, not duplicated)."""
    _catalog().copy(src, dst)
    print(f"copied {src} to {dst}")
    return 0

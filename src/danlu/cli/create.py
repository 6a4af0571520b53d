"""`danlu create NAME -f Modelfile`: a derived model (parameters, system prompt, template,
adapters) over a model of the store, sharing its weights."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from danlu.config import Settings


def create(
    name: Annotated[str, typer.Argument(help="Name of the new model.")],
    file: Annotated[
        Path, typer.Option("--file", "-f", help="The Modelfile (FROM, PARAMETER, SYSTEM, ...).")
    ] = Path("Modelfile"),
) -> int:
    """Create a model from a Modelfile, as Ollama's `create` does (no copy of the weights)."""
    from danlu.export.create import create_from_file

    manifest = create_from_file(name, file, Settings())
    extras = [f"{len(manifest.adapters)} adapter(s)"] if manifest.adapters else []
    if manifest.system:
        extras.append("system prompt")
    if manifest.sampling:
        extras.append(f"{len(manifest.sampling)} parameter(s)")
    print(
        f"created {manifest.name} from {manifest.parent}"
        + (f" ({', '.join(extras)})" if extras else "")
    )
    return 0

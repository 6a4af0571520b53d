"""`danlu create NAME -f Modelfile`: a derived model that shares its parent's weights.

The new model's folder holds hard links to the parent's files (no copy of the weights),
copies of any ADAPTER files, and a manifest with the parent's facts plus the Modelfile's
system prompt, sampling defaults, context length, template and adapters. Everything is
checked before the store is touched; each problem names its Modelfile line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from danlu.atomic import copy_file_atomic, place_file
from danlu.chat.messages import Message
from danlu.chat.template import ChatTemplate
from danlu.chat.templates import NAMED_TEMPLATES
from danlu.config import Settings
from danlu.engine.sampling import SamplingParams
from danlu.errors import DanluError
from danlu.export.register import reserve_name
from danlu.store import Catalog, Manifest
from danlu.store.gguf_info import read_gguf_header
from danlu.store.manifest import utc_now, write_manifest
from danlu.store.modelfile import Modelfile, ModelfileError, parse_modelfile
from danlu.store.staging import staged_model


def create_from_file(name: str, path: Path | str, settings: Settings) -> Manifest:
    """Read and parse the Modelfile at `path` (ADAPTER paths are relative to its folder)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelfileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return create_model(name, parse_modelfile(text, str(path)), settings, path.parent)


def create_model(name: str, mf: Modelfile, settings: Settings, folder: Path) -> Manifest:
    """Build model `name` from a parsed Modelfile; `folder` anchors relative ADAPTER paths."""
    catalog = Catalog(settings)
    name = reserve_name(catalog, name, rename="give the new model another name")
    parent = _parent(catalog, mf)
    adapters = [_adapter_file(mf, folder / a, parent) for a in mf.adapters]
    updates = _updates(mf, parent)
    with staged_model(catalog.root, name) as stage:
        return stage_derived(stage, catalog, parent, name, updates, adapters)


def stage_derived(
    stage: Path,
    catalog: Catalog,
    parent: Manifest,
    name: str,
    updates: dict[str, Any],
    adapters: list[Path],
) -> Manifest:
    """Hard-link the parent's files into `stage`, copy the new adapters in (GGUF LoRA
    files, applied after the parent's own), and write the derived manifest."""
    for entry in parent.files:
        if not Path(entry).is_absolute():
            place_file(catalog.model_dir(parent.name) / entry, stage / entry)
    first = len(parent.adapters)
    added = [_place_adapter(src, stage, first + i) for i, src in enumerate(adapters)]
    manifest = Manifest.model_validate(
        {
            **parent.model_dump(),
            "source": f"modelfile:{parent.name}",
            **updates,
            "name": name,
            "files": [*parent.files, *added],
            "adapters": [*parent.adapters, *added],
            "size": parent.size + sum((stage / a).stat().st_size for a in added),
            "parent": parent.name,
            "builtin": False,
            "created": utc_now(),
        }
    )
    write_manifest(stage, manifest)
    return manifest


def _where(mf: Modelfile, key: str) -> str:
    return f"Modelfile line {mf.lines.get(key, 1)}"


def _parent(catalog: Catalog, mf: Modelfile) -> Manifest:
    try:
        parent = catalog.get(mf.base)
        catalog.main_path(parent.name)  # its files must all be there
    except DanluError as exc:
        raise ModelfileError(f"{_where(mf, 'FROM')}: {exc.message}", hint=exc.hint) from None
    return parent


def _updates(mf: Modelfile, parent: Manifest) -> dict[str, Any]:
    """The manifest fields the Modelfile sets, each checked."""
    params = {**parent.sampling, **mf.parameters}
    try:
        SamplingParams.build(**params)
    except DanluError as exc:
        first = next((k for k in mf.lines if k.startswith("PARAMETER")), "PARAMETER")
        raise ModelfileError(f"{_where(mf, first)}: {exc.message}", hint=exc.hint) from None
    updates: dict[str, Any] = {"sampling": params}
    if mf.n_ctx is not None:
        updates["n_ctx"] = mf.n_ctx
    if mf.system is not None:
        updates["system"] = mf.system
    if mf.license is not None:
        updates["license"] = mf.license
    if mf.template is not None:
        updates.update(_template(mf))
    return updates


def _template(mf: Modelfile) -> dict[str, Any]:
    source = (mf.template or "").strip()
    if source in NAMED_TEMPLATES:
        return {"template": source}
    try:
        ChatTemplate("modelfile", source).render([Message(role="user", content="hi")])
    except Exception as exc:  # a template's own errors are whatever its code raises
        message = exc.message if isinstance(exc, DanluError) else f"the template fails: {exc}"
        raise ModelfileError(
            f"{_where(mf, 'TEMPLATE')}: {message}",
            hint=f"a Jinja chat template, or one of {', '.join(sorted(NAMED_TEMPLATES))}",
        ) from None
    return {"chat_template": source, "template": None}


def _adapter_file(mf: Modelfile, path: Path, parent: Manifest) -> Path:
    where = _where(mf, "ADAPTER")
    if parent.format != "gguf":
        raise ModelfileError(f"{where}: adapters apply to GGUF models; '{parent.name}' is not")
    if not path.is_file():
        raise ModelfileError(f"{where}: no such adapter file {path}")
    try:
        kind = read_gguf_header(path).metadata.get("general.type")
    except DanluError as exc:
        raise ModelfileError(f"{where}: {exc.message}") from None
    if kind != "adapter":
        raise ModelfileError(
            f"{where}: {path.name} is not a GGUF LoRA adapter",
            hint="export one with `danlu export RUN --adapter-only`",
        )
    return path


def _place_adapter(src: Path, stage: Path, index: int) -> str:
    entry = f"adapters/{index}-{src.name}"
    (stage / "adapters").mkdir(exist_ok=True)
    copy_file_atomic(src, stage / entry)
    return entry

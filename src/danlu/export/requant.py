"""`danlu quantize MODEL TYPE`: any GGUF in the store, quantized, with its quality cost.

The quantized file is built in the store's staging folder for the new name; the source
model is the parity reference (see `parity`), so the table says what this step cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from danlu.config import Settings
from danlu.engine.base import LoadOptions
from danlu.engine.registry import open_engine
from danlu.export import parity
from danlu.export.quantize import check_quant_type, quantize
from danlu.export.register import register_gguf, reserve_name
from danlu.model import open_with_template
from danlu.progress import Progress
from danlu.store import Catalog, Manifest
from danlu.store.manifest import utc_now
from danlu.store.staging import staged_model

INHERITED = ("template", "system", "sampling", "n_ctx")
"""What a quantized model keeps of its source: the chosen template and Modelfile defaults."""


@dataclass(frozen=True)
class QuantizeResult:
    manifest: Manifest
    report: parity.ParityReport


def quantize_model(
    source: str,
    qtype: str,
    name: str | None,
    settings: Settings,
    *,
    threads: int = 2,
    steps: Progress | None = None,
) -> QuantizeResult:
    """Quantize store model `source` to `qtype` as `name` (default `<source>-<qtype>`)."""
    step = steps or (lambda label, done, total: None)
    qtype = check_quant_type(qtype)
    catalog = Catalog(settings)
    manifest, path = catalog.gguf_path(
        source, done="quantized", hint="convert a training run with `danlu export`"
    )
    name = reserve_name(catalog, name or f"{manifest.name}-{qtype}")
    with staged_model(catalog.root, name) as stage:
        step(f"quantizing to {qtype}", 0, 2)
        out = quantize(path, stage / f"{name}.gguf", qtype, threads=threads)
        step("measuring against the source", 1, 2)
        report = compare(manifest, path, out, qtype, threads)
        made = {
            "from": manifest.name,
            "base": {"name": manifest.name, "sha256": manifest.sha256, "source": manifest.source},
            "quantization": qtype,
            "quantized": utc_now(),
            "parity": report.to_dict(),
        }
        inherited = {key: getattr(manifest, key) for key in INHERITED}
        result = register_gguf(stage, name, out, f"model:{manifest.name}", made, **inherited)
    step("done", 2, 2)
    return QuantizeResult(result, report)


def compare(
    manifest: Manifest, path: Path, out: Path, qtype: str, threads: int
) -> parity.ParityReport:
    """The source GGUF as reference and first row, then the quantized file."""
    options = LoadOptions.build(n_ctx=512, threads=threads)
    label = (manifest.quantization or "source").lower()
    report = parity.ParityReport(f"{manifest.name} ({label})", parity.GREEDY_TOKENS)
    source, template = open_with_template(
        "llama.cpp", path, options, manifest.chat_template, manifest.template
    )
    try:
        ref = parity.reference(source, template)
        report.add(parity.measure(label, path.stat().st_size, source, ref))
    finally:
        source.close()
    engine = open_engine("llama.cpp", out, options)
    try:
        report.add(parity.measure(qtype, out.stat().st_size, engine, ref))
    finally:
        engine.close()
    return report

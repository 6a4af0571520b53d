"""`danlu export RUN`: merge → convert to f16 GGUF → quantize → parity → register.

Everything is built inside the store's hidden staging folder for the new name, so an
error, a failed parity check, a full disk (DiskFull, naming the store's folder and about
the space the export needs) or a kill leaves no model behind (and `sweep_stale` clears
what a kill left). The parity report goes to the run folder (`exports/<name>.json`)
whether the export passes or not, and into the new model's manifest when it does.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from danlu.chat.template import resolve_template
from danlu.config import Settings
from danlu.diskspace import disk_full_as_error
from danlu.engine.base import LoadOptions
from danlu.engine.registry import open_engine
from danlu.engine.transformers.quiet import quiet_libraries
from danlu.errors import InvalidRequest
from danlu.export import parity
from danlu.export.adapter import export_adapter
from danlu.export.convert import check_converter, convert, convert_kept
from danlu.export.create import stage_derived
from danlu.export.errors import ExportError, ParityFailed
from danlu.export.merge import base_dtype, base_folder, merge
from danlu.export.quantize import check_quant_type, quantize
from danlu.export.register import provenance, register_gguf, reserve_name, write_report
from danlu.model import open_with_template
from danlu.progress import Progress
from danlu.store import Catalog, Manifest
from danlu.store.manifest import read_manifest
from danlu.store.staging import staged_model
from danlu.train.runs import RunRecord, find_run, read_record

Candidate = tuple[str, Path, tuple[str, ...]]
"""A GGUF to check: its row label, its file, and the adapters llama.cpp applies over it."""


@dataclass(frozen=True)
class ExportOptions:
    """What `danlu export` was asked for."""

    name: str  # the new model's name in the store
    quant: str | None = None  # a llama.cpp quantization type; None keeps f16
    threads: int = 2  # CPU threads for parity and quantization
    allow_mismatch: bool = False  # register even when the f16 parity check fails
    adapter_only: bool = False  # a GGUF LoRA adapter over the base model, not a merged model
    verbose: bool = False  # let transformers and peft print their bars and warnings
    thresholds: parity.Thresholds = field(default_factory=parity.Thresholds)


@dataclass(frozen=True)
class ExportResult:
    manifest: Manifest
    report: parity.ParityReport
    run_dir: Path


def export_run(
    ref: str, options: ExportOptions, settings: Settings, steps: Progress | None = None
) -> ExportResult:
    """Export training run `ref` (an id or a path) into the store as `options.name`."""
    step = steps or (lambda label, done, total: None)
    catalog = Catalog(settings)
    run_dir, record, quant = check_export(ref, options, catalog)
    job = _Export(run_dir, record, options, catalog, check_converter(), step)
    job.name = reserve_name(catalog, options.name)
    needed = space_needed(run_dir / record.output, options.adapter_only)
    with quiet_libraries(options.verbose), disk_full_as_error(catalog.root, needed):
        manifest, report = job.adapter() if options.adapter_only else job.merged(quant)
    step("done", 1, 1)
    return ExportResult(manifest, report, run_dir)


def check_export(
    ref: str, options: ExportOptions, catalog: Catalog
) -> tuple[Path, RunRecord, str | None]:
    """The run's folder, its record and the checked quant type; a typed error, before any
    long work, for a run that is missing or unfinished, a bad type or a taken name."""
    if options.adapter_only and options.quant:
        raise InvalidRequest("--adapter-only exports the adapter alone: it takes no --quant")
    quant = check_quant_type(options.quant) if options.quant else None
    run_dir = find_run(ref, catalog.settings)
    record = read_record(run_dir)
    if record.status != "finished" or record.output is None:
        raise unfinished(record)
    reserve_name(catalog, options.name)
    return run_dir, record, quant


def space_needed(weights: Path, adapter_only: bool) -> int:
    """About what an export writes at its peak: the merged folder (the base's size, less
    for an adapter-only export, which merges nothing) and an f16 GGUF of it."""
    base = base_folder(weights)
    size = sum(f.stat().st_size for f in base.glob("*.safetensors"))
    itemsize = base_dtype(weights).itemsize
    f16 = size * 2 // itemsize
    return f16 if adapter_only else size + f16


def unfinished(record: RunRecord) -> ExportError:
    """The refusal for a run without a result, saying what to do about it."""
    if record.training_now:
        return ExportError(
            f"run {record.id} is still training (step {record.steps}): it has no result yet",
            hint="export it once it has finished (`danlu runs ls` shows when)",
        )
    verb = "was" if record.status in ("interrupted", "failed") else "is"
    return ExportError(
        f"run {record.id} {verb} {record.state()}: it has no result to export",
        hint=f"resume it with `danlu train {record.stage} --run {record.id} --resume`, "
        "then export it",
    )


@dataclass
class _Export:
    """One export's inputs, shared by its two kinds."""

    run_dir: Path
    record: Any
    options: ExportOptions
    catalog: Catalog
    converter: str
    step: Progress  # (the step that starts now, steps done, steps in all)
    name: str = ""

    def merged(self, quant: str | None) -> tuple[Manifest, parity.ParityReport]:
        """Merge → f16 GGUF → quantize → parity against the merged model → register."""
        name, step, template = self.name, self.step, run_template(self.run_dir)
        total = 5 if quant else 4
        with staged_model(self.catalog.root, name) as stage:
            step("merging the adapter into the base weights", 0, total)
            weights = self.run_dir / self.record.output
            merged = merge(weights, template, stage / ".work" / "merged")
            step("converting to GGUF (f16)", 1, total)
            f16 = convert(merged, stage / f"{name}.f16.gguf")
            candidates: list[Candidate] = [("f16", f16, ())]
            if quant:
                step(f"quantizing to {quant}", 2, total)
                out = stage / f"{name}.{quant}.gguf"
                quantize(f16, out, quant, threads=self.options.threads)
                candidates.append((quant, out, ()))
            step("checking parity", total - 2, total)
            report = self.checked(merged, template, candidates)
            step("registering", total - 1, total)
            shutil.rmtree(stage / ".work")
            if quant:
                f16.unlink()
            made = provenance(self.record, self.converter, quant or "f16", report)
            final = candidates[-1][1]
            manifest = register_gguf(stage, name, final, f"run:{self.record.id}", made)
        return manifest, report

    def adapter(self) -> tuple[Manifest, parity.ParityReport]:
        """The LoRA as a GGUF adapter over the run's base model in the store."""
        if self.record.output != "adapter":
            raise ExportError(
                f"run {self.record.id} trained the whole model: there is no adapter to export",
                hint="leave out --adapter-only",
            )
        parent = self.catalog.get(self.record.base_model["name"])
        if parent.format != "gguf":
            raise ExportError(
                f"the run's base '{parent.name}' is not a GGUF model, which a GGUF adapter needs",
                hint="export the merged model instead (leave out --adapter-only)",
            )
        parent_path = self.catalog.main_path(parent.name)
        weights, step, template = self.run_dir / "adapter", self.step, run_template(self.run_dir)
        with staged_model(self.catalog.root, self.name) as stage:
            work = stage / ".work"
            work.mkdir()
            step("writing the GGUF adapter", 0, 4)
            lora = export_adapter(base_folder(weights), weights, work / f"{self.name}.lora.gguf")
            step("converting the base to GGUF (f16) for the parity check", 1, 4)
            base_f16 = self.base_f16(base_folder(weights), work)
            step("checking parity", 2, 4)
            adapters = (str(lora),)
            report = self.checked(
                weights,
                template,
                [
                    ("f16 base + adapter", base_f16, adapters),
                    (f"{parent.name} + adapter", parent_path, adapters),
                ],
            )
            step("registering", 3, 4)
            made = provenance(self.record, self.converter, "adapter", report)
            updates = {"source": f"run:{self.record.id}", "provenance": made}
            updates.update({"chat_template": template, "template": None})
            manifest = stage_derived(stage, self.catalog, parent, self.name, updates, [lora])
            shutil.rmtree(work)
        return manifest, report

    def base_f16(self, base: Path, work: Path) -> Path:
        """The base as an f16 GGUF: kept beside a cached base (DANLU_HOME/cache/), which
        never changes, so the next adapter export over it skips the conversion; a base
        folder elsewhere is the user's, and is converted into `work` instead."""
        if base.resolve().is_relative_to(self.catalog.settings.cache_dir.resolve()):
            return convert_kept(base)
        return convert(base, work / "base-f16.gguf")

    def checked(
        self, reference: Path, template: str, candidates: list[Candidate]
    ) -> parity.ParityReport:
        """Parity, saved in the run folder; ParityFailed (after saving) if the first
        candidate misses the thresholds."""
        report = check_parity(reference, template, candidates, self.options)
        write_report(self.run_dir, self.name, report)
        _gate(report, self.options)
        return report


def run_template(run_dir: Path) -> str:
    """The template source the run trained with (template.jinja, else its manifest's)."""
    saved = run_dir / "template.jinja"
    if saved.is_file():
        return saved.read_text(encoding="utf-8")
    manifest = read_manifest(run_dir)
    return resolve_template(manifest.chat_template, manifest.template).source


def _options(options: ExportOptions, adapters: tuple[str, ...] = ()) -> LoadOptions:
    extra = {"verbose": options.verbose}  # -v: the engines' own logs too
    return LoadOptions.build(n_ctx=512, threads=options.threads, adapters=adapters, extra=extra)


def check_parity(
    reference: Path, source: str, candidates: list[Candidate], options: ExportOptions
) -> parity.ParityReport:
    """The trained model in transformers (`reference`: the merged folder, or the run's
    adapter over its base) against each GGUF candidate; `source` is the template."""
    report = parity.ParityReport("the trained model (transformers)", parity.GREEDY_TOKENS)
    engine, template = open_with_template(
        "transformers", reference, _options(options), source, None
    )
    try:
        ref = parity.reference(engine, template)
    finally:
        engine.close()
    for variant, path, adapters in candidates:
        engine = open_engine("llama.cpp", path, _options(options, adapters))
        size = path.stat().st_size + sum(Path(a).stat().st_size for a in adapters)
        try:
            report.add(parity.measure(variant, size, engine, ref))
        finally:
            engine.close()
    parity.judge(report.rows[0], options.thresholds)
    return report


def _gate(report: parity.ParityReport, options: ExportOptions) -> None:
    first = report.rows[0]
    if first.passed or options.allow_mismatch:
        return
    raise ParityFailed(
        f"PARITY FAILED: the f16 export agrees with the trained model on {first.top1:.0%} "
        f"of top-1 tokens and {first.greedy}/{first.prompts} greedy answers; not registered",
        hint="see the table above and the run's exports/ folder; --allow-mismatch "
        "registers it anyway",
    )

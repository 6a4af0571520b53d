"""`danlu doctor`: what this machine is and what danlu will do on it, in one report.

A crash report starts from it: the versions, the CPU and its features as llama.cpp sees
them, the threads, the engine defaults a load of a model gets with their reasons, this
machine's tuning records and which extras are installed.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from dataclasses import asdict, dataclass

from danlu.config import Settings
from danlu.errors import DanluError
from danlu.extras import missing_by_extra
from danlu.load_defaults import default_rows
from danlu.store import Catalog
from danlu.store.tuning import Tunings, label
from danlu.system import cpu


@dataclass(frozen=True)
class Report:
    """Every section of `danlu doctor`, as plain data (the CLI prints it or dumps JSON)."""

    versions: dict[str, str]
    cpu: dict[str, str]
    llama_cpp: dict[str, str]  # llama_print_system_info: the features it was built for
    model: str  # the model the defaults are for
    defaults: dict[str, str]  # as `danlu show` lists them
    tunings: list[dict[str, str]]  # this machine's records, by model
    extras: dict[str, str]  # 'installed' or what is missing

    def as_dict(self) -> dict:
        return asdict(self)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    return {
        "danlu": _version("danlu"),
        "llama-cpp-python": _version("llama-cpp-python"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def cpu_section() -> dict[str, str]:
    this = cpu()
    wanted = ("avx2", "avx512f", "avx512_vnni", "amx_tile", "amx_int8", "amx_bf16", "neon")
    return {
        "name": this.name,
        "cores": f"{this.physical} physical, {this.logical} logical",
        "features": " ".join(flag for flag in wanted if flag in this.flags) or "-",
        "AMX": "yes" if this.has_amx else "no",
    }


def tuning_rows(settings: Settings, catalog: Catalog) -> list[dict[str, str]]:
    """This machine's records, named by the store models whose file they were measured on."""
    names: dict[str, list[str]] = {}
    for manifest in catalog.list().models:
        names.setdefault(manifest.sha256, []).append(manifest.name)
    rows = []
    for sha256, record in Tunings(settings.home).here().items():
        row = {
            "models": ", ".join(names.get(sha256, [])) or f"(no model) {sha256[:12]}",
            "chosen": label(record.flash_attn, record.repack),
            "measured": f"{record.measured} at {record.threads} threads",
        }
        row |= {f"unusable: {c}": why for c, why in record.unusable.items()}
        rows.append(row)
    return rows


def diagnose(settings: Settings | None = None, model: str | None = None) -> Report:
    """The report for `model` (default: the settings' default model)."""
    from danlu.engine.llamacpp.machine import system_info

    settings = settings or Settings()
    catalog = Catalog(settings)
    name = model or settings.default_model
    try:
        defaults = default_rows(catalog.get(name), settings)
    except DanluError as exc:
        if model is not None:
            raise
        defaults = {"(none)": exc.message}
    extras = {
        extra: "installed" if not missing else "missing " + ", ".join(missing)
        for extra, missing in missing_by_extra().items()
        if extra != "test"
    }
    return Report(
        versions(),
        cpu_section(),
        system_info(),
        name,
        defaults,
        tuning_rows(settings, catalog),
        extras,
    )

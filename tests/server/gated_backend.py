"""A backend plugin for tests: llama.cpp, except that a load waits at a gate the test holds.

It registers through the `danlu.backends` entry-point group, as a third-party backend
would, from a dist-info folder the `gated_backend` fixture puts on sys.path. A model
whose manifest names backend "gated" then loads through it: the test sees the load
begin (`GATE.entered`) and decides when it may finish (`GATE.release`), so "while a
model loads" is a state the test holds, not a moment a poller has to catch.
"""

from __future__ import annotations

import threading
from pathlib import Path

from danlu.config import Settings
from danlu.engine.base import LoadOptions
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.store import Catalog
from danlu.store.manifest import write_manifest

NAME = "gated"
LOAD_WAIT_SECONDS = 120  # a test that forgets to open the gate still ends


class Gate:
    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()


GATE = Gate()


class GatedEngine(LlamaCppEngine):
    def __init__(self, path: Path, options: LoadOptions) -> None:
        GATE.entered.set()
        GATE.release.wait(LOAD_WAIT_SECONDS)
        super().__init__(path, options)


def register(site: Path) -> Path:
    """Write the dist-info that registers backend 'gated'; `site` goes on sys.path."""
    info = site / "danlu_gated_backend-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: danlu-gated-backend\nVersion: 0\n")
    entry = f"{__name__}:{GatedEngine.__name__}"
    (info / "entry_points.txt").write_text(f"[danlu.backends]\n{NAME} = {entry}\n")
    return site


def add_gated_model(home: Path, name: str = NAME) -> str:
    """A copy of smollm2 in `home` whose manifest says it loads with the gated backend."""
    catalog = Catalog(Settings(home=home))
    manifest = catalog.copy("smollm2", name)
    write_manifest(catalog.model_dir(name), manifest.model_copy(update={"backend": NAME}))
    return name

"""Model names as Ollama clients send them, mapped onto the store.

A client may say 'smollm2', 'smollm2:latest', or the Hugging Face reference it pulled
('org/repo:Q4_K_M'); the store knows the model by its own name. Unknown names get
Ollama's 404 wording, `model 'x' not found`, which clients test for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from danlu.errors import InvalidRequest, ModelNotFound
from danlu.model import Model
from danlu.server.pool import ModelPool
from danlu.store import Catalog, Manifest
from danlu.store.hub import HubRef, choose_gguf, parse_ref

LATEST = ":latest"


def hub_ref(name: str) -> HubRef | None:
    """The Hugging Face reference `name` spells, if it is one (':latest' ignored)."""
    try:
        return parse_ref(name.removesuffix(LATEST))
    except InvalidRequest:
        return None


def _same_target(manifest: Manifest, ref: HubRef) -> bool:
    repo = f"hf:{ref.repo_id}".lower()
    source = manifest.source
    if source.lower() == repo:  # a safetensors repo pulled whole
        return ref.filename is None and ref.quant is None
    if not source.lower().startswith(repo + "/"):
        return False
    file = source[len(repo) + 1 :]
    if ref.filename:
        return file == ref.filename
    return ref.quant is None or choose_gguf([file], ref.quant) is not None


def pulled_as(catalog: Catalog, ref: HubRef) -> Manifest | None:
    """The stored model a pull of `ref` produced, if there is one."""
    return next((m for m in catalog.list().models if _same_target(m, ref)), None)


def store_name(pool: ModelPool, name: str) -> str:
    """The store name for what a client called `name`; 404 in Ollama's words if none."""
    try:
        return pool.resolve(name)
    except (ModelNotFound, InvalidRequest) as exc:
        ref = hub_ref(name)
        found = pulled_as(pool.catalog, ref) if ref else None
        if found is not None:
            return found.name
        hint = exc.hint if isinstance(exc, ModelNotFound) else None
        raise ModelNotFound(f"model '{name}' not found", hint=hint) from None


@asynccontextmanager
async def hold(pool: ModelPool, name: str, keep_alive: float | None) -> AsyncIterator[Model]:
    """The model loaded and held for one request (see ModelPool.use)."""
    async with pool.use(store_name(pool, name), keep_alive) as model:
        yield model


async def release(pool: ModelPool, name: str) -> None:
    """Unload `name` now if idle, else as soon as its last request ends (keep_alive 0)."""
    for entry in pool.loaded():
        if entry.model.name == name:
            entry.keep_alive = 0
            if entry.active == 0:
                await pool.unload(name, only_idle=True)

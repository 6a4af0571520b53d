"""POST /api/pull: models come from the Hugging Face Hub, not from the Ollama library.

The name is a Hugging Face reference (ORG/REPO, ORG/REPO:QUANT, ORG/REPO/FILE.gguf);
the model is stored under the catalog's default name for it, which the final
"success" object carries as `model` (the reference keeps working as a name too).
A name already in the store, or a reference pulled before, succeeds at once.

Streaming reports Ollama's statuses: "pulling manifest", "pulling <reference>" with
completed/total bytes while the file downloads (skipped when the Hugging Face cache
already has it), "verifying sha256 digest" with completed/total while it is hashed into
the store, "writing manifest" and "success". A download runs to the end even if the
client goes away, so that a retry finds it in the cache.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from danlu.errors import InvalidRequest, ModelNotFound
from danlu.server.ollama.names import hub_ref, pulled_as, store_name
from danlu.server.ollama.respond import NDJSON, error_text
from danlu.server.ollama.schemas import PullRequest
from danlu.server.state import state
from danlu.store import Catalog, Manifest

EXAMPLE = "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"


def _local(request: Request, name: str) -> str | None:
    """The store name when `name` is already here (nothing to pull)."""
    try:
        return store_name(state(request).pool, name)
    except ModelNotFound:
        return None


def _reference(name: str) -> str:
    if hub_ref(name) is None:
        raise InvalidRequest(
            f"'{name}' is not a Hugging Face model reference: danlu pulls GGUF and "
            "safetensors models from the Hugging Face Hub, not from the Ollama library",
            hint=f"use ORG/REPO, ORG/REPO:QUANT or ORG/REPO/FILE.gguf, e.g. {EXAMPLE}",
        )
    return name.removesuffix(":latest")


def _pull(catalog: Catalog, ref: str, emit=None) -> Manifest:
    """Catalog.pull, unless the same reference was pulled before (no network then)."""
    parsed = hub_ref(ref)
    found = pulled_as(catalog, parsed) if parsed else None
    if found is not None:
        return found

    def reporter(status: str, **extra: str):
        def report(label: str, done: int, total: int | None) -> None:
            if emit is not None and total:
                emit({"status": status, **extra, "completed": done, "total": total})

        return report

    # front ends show a download bar for statuses that carry a `digest` (Ollama's layer
    # id); the hub reference stands in for it, as the file's hash is not known yet
    download = reporter(f"pulling {ref}", digest=ref)
    return catalog.pull(ref, download=download, progress=reporter("verifying sha256 digest"))


async def pull(body: PullRequest, request: Request) -> Response:
    name = body.target()
    local = _local(request, name)
    if local is not None:
        return _done(body.stream, local)
    ref = _reference(name)
    catalog = state(request).pool.catalog
    if not body.stream:
        manifest = await asyncio.to_thread(_pull, catalog, ref)
        return _done(False, manifest.name)
    return StreamingResponse(_progress(catalog, ref), media_type=NDJSON)


def _done(stream: bool, name: str) -> Response:
    line = json.dumps({"status": "success", "model": name})
    return Response(line + "\n", media_type=NDJSON if stream else "application/json")


def _line(status: dict) -> bytes:
    return json.dumps(status).encode() + b"\n"


async def _progress(catalog: Catalog, ref: str) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict | None] = asyncio.Queue()

    def emit(status: dict) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, status)

    async def run() -> Manifest:
        try:
            return await asyncio.to_thread(_pull, catalog, ref, emit)
        finally:
            queue.put_nowait(None)  # after every status the thread emitted

    yield _line({"status": "pulling manifest"})
    task = asyncio.create_task(run())
    while (status := await queue.get()) is not None:
        yield _line(status)
    try:
        manifest = task.result()
    except Exception as exc:  # the status line is sent: report in-band, as Ollama does
        yield _line({"error": error_text(exc)})
        return
    yield _line({"status": "writing manifest"})
    yield _line({"status": "success", "model": manifest.name})

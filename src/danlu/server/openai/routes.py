"""The /v1 router: models, chat and text completions, embeddings."""

from __future__ import annotations

import asyncio
import base64
import struct
import time

from fastapi import APIRouter, Request

from danlu.errors import InvalidRequest
from danlu.server.kb import chat_or_kb
from danlu.server.openai.completions import completions
from danlu.server.openai.schemas import EmbeddingRequest, as_batch
from danlu.server.openapi import AUTH, BODY, GENERATE, MODEL, openai_errors
from danlu.server.state import state
from danlu.server.vectors import shorten

router = APIRouter(prefix="/v1", tags=["openai"], responses=openai_errors(AUTH))
# a model named kb:NAME answers from that knowledge base (server/kb.py)
router.post("/chat/completions", responses=openai_errors(BODY, GENERATE, (501,)))(chat_or_kb)
router.post("/completions", responses=openai_errors(BODY, GENERATE))(completions)


def _model_entry(name: str, created: str | None) -> dict:
    stamp = int(time.time())
    if created:
        from datetime import datetime

        stamp = int(datetime.fromisoformat(created).timestamp())
    return {"id": name, "object": "model", "created": stamp, "owned_by": "danlu"}


@router.get("/models")
async def list_models(request: Request) -> dict:
    listing = state(request).pool.catalog.list()
    return {"object": "list", "data": [_model_entry(m.name, m.created) for m in listing.models]}


@router.get("/models/{name}", responses=openai_errors((400, 404, 422)))
async def get_model(name: str, request: Request) -> dict:
    manifest = state(request).pool.catalog.get(name)
    return _model_entry(manifest.name, manifest.created)


@router.post("/embeddings", responses=openai_errors(BODY, MODEL))
async def embeddings(body: EmbeddingRequest, request: Request) -> dict:
    ctx = state(request)
    async with ctx.pool.use(body.model) as model:
        items = as_batch(body.input)
        if not items:
            raise InvalidRequest("input must not be empty")
        token_lists = model.embedding_tokens(items)  # ids are embedded as given, specials too
        vectors = await asyncio.to_thread(model.engine.embed, token_lists)
        used = sum(len(tokens) for tokens in token_lists)
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": _encode(shorten(v, body.dimensions), body.encoding_format),
        }
        for i, v in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": model.name,
        "usage": {"prompt_tokens": used, "total_tokens": used},
    }


def _encode(vector: list[float], encoding: str):
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()

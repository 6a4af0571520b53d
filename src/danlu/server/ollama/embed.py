"""POST /api/embed (batched, truncating) and the older POST /api/embeddings.

Vectors are L2-normalised on both routes (Ollama's legacy route returns raw ones;
danlu's engine only produces normalised vectors). Sampling options have no effect on
an embedding and are accepted; num_ctx still may not exceed the server's context.
"""

from __future__ import annotations

import asyncio

from fastapi import Request

from danlu.errors import InvalidRequest
from danlu.model import Model
from danlu.server.ollama.names import hold
from danlu.server.ollama.options import Options, sampling_changes
from danlu.server.ollama.respond import Clock
from danlu.server.ollama.schemas import EmbeddingsRequest, EmbedRequest
from danlu.server.state import state
from danlu.server.timefmt import keep_alive_seconds
from danlu.server.vectors import shorten


def fit_text(model: Model, text: str, window: int, truncate: bool) -> tuple[str, int]:
    """The text cut to `window` tokens (or a 400 when truncate is false), and its length."""
    tokens = model.engine.tokenize(text, add_bos=True)
    if len(tokens) <= window:
        return text, len(tokens)
    if not truncate:
        raise InvalidRequest(
            f"the input has {len(tokens)} tokens, more than the context of {window}",
            hint="shorten it, or leave truncate out to cut it to fit",
        )
    bos = model.engine.tokenize("", add_bos=True)
    body, keep = tokens[len(bos) :], window - len(bos)
    while len(tokens) > window and keep > 0:  # the cut text may re-tokenise a little longer
        text = model.engine.detokenize(body[:keep])
        tokens = model.engine.tokenize(text, add_bos=True)
        keep -= 1
    return text, len(tokens)


def _window(model: Model, options: Options | None) -> int:
    sampling_changes(options, model.n_ctx)  # the same checks as generation
    return options.num_ctx if options is not None and options.num_ctx else model.n_ctx


def _embed(model: Model, texts: list[str], window: int, truncate: bool) -> tuple[list, int]:
    fitted = [fit_text(model, t, window, truncate) for t in texts]
    vectors = model.embed([text for text, _ in fitted])
    return vectors, sum(count for _, count in fitted)


def _texts(value: str | list[str]) -> list[str]:
    """An empty string means no input (Ollama then only loads the model)."""
    if isinstance(value, str):
        return [value] if value else []
    if not all(value):
        raise InvalidRequest("input must not contain empty strings")
    return list(value)


async def embed(body: EmbedRequest, request: Request) -> dict:
    ctx, clock = state(request), Clock()
    texts = _texts(body.input)
    async with hold(ctx.pool, body.model, keep_alive_seconds(body.keep_alive)) as model:
        clock.mark_loaded()
        window = _window(model, body.options)
        vectors, count = ([], 0)
        if texts:  # nothing to embed: Ollama just loads the model
            vectors, count = await asyncio.to_thread(_embed, model, texts, window, body.truncate)
    return {
        "model": body.model,
        "embeddings": [shorten(v, body.dimensions) for v in vectors],
        **clock.durations(),
        "prompt_eval_count": count,
    }


async def embeddings(body: EmbeddingsRequest, request: Request) -> dict:
    ctx = state(request)
    async with hold(ctx.pool, body.model, keep_alive_seconds(body.keep_alive)) as model:
        window = _window(model, body.options)
        if not body.prompt:
            return {"embedding": []}
        vectors, _ = await asyncio.to_thread(_embed, model, [body.prompt], window, True)
    return {"embedding": vectors[0]}

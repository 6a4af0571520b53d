"""Operations routes: health, Prometheus metrics, tokenize and detokenize."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from danlu.errors import InvalidRequest
from danlu.server.app import state

router = APIRouter(tags=["operations"])


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str
    model: str | None = None
    add_special: bool = Field(False, description="Add the model's BOS token if it uses one.")
    with_pieces: bool = Field(False, description="Also return each token's text.")


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: list[int]
    model: str | None = None


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    ctx = state(request)
    if ctx.failure is not None:
        return JSONResponse({"status": "error", "error": ctx.failure.one_line()}, 503)
    if not ctx.ready or ctx.pool.loading:
        return JSONResponse({"status": "loading"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    body = state(request).metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.post("/tokenize")
async def tokenize(body: TokenizeRequest, request: Request) -> dict:
    ctx = state(request)
    async with ctx.pool.use(body.model or ctx.default_model()) as model:
        tokens = model.engine.tokenize(body.content, add_bos=body.add_special)
        if body.with_pieces:
            pieces = [{"id": t, "piece": model.engine.detokenize([t])} for t in tokens]
            return {"tokens": pieces}
        return {"tokens": tokens}


@router.post("/detokenize")
async def detokenize(body: DetokenizeRequest, request: Request) -> dict:
    ctx = state(request)
    async with ctx.pool.use(body.model or ctx.default_model()) as model:
        if any(t < 0 or t >= model.engine.n_vocab for t in body.tokens):
            raise InvalidRequest(f"token ids must be in 0..{model.engine.n_vocab - 1}")
        return {"content": model.engine.detokenize(body.tokens)}

"""Operations routes: health, Prometheus metrics, tokenize and detokenize."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from danlu.server.openapi import AUTH, BODY, MODEL, openai_errors
from danlu.server.state import state

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


class Health(BaseModel):
    status: str = Field(description="ok, loading, or error")
    error: str | None = Field(None, description="Why the models could not load.")


@router.get("/health", responses={503: {"model": Health, "description": "Loading, or failed"}})
async def health(request: Request) -> JSONResponse:
    ctx = state(request)
    if ctx.failure is not None:
        return JSONResponse({"status": "error", "error": ctx.failure.one_line()}, 503)
    if not ctx.ready or ctx.pool.loading:
        return JSONResponse({"status": "loading"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", response_class=PlainTextResponse, responses=openai_errors(AUTH))
async def metrics(request: Request) -> Response:
    body = state(request).metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.post("/tokenize", responses=openai_errors(AUTH, BODY, MODEL))
async def tokenize(body: TokenizeRequest, request: Request) -> dict:
    ctx = state(request)
    async with ctx.pool.use(body.model or ctx.default_model()) as model:
        tokens = model.engine.tokenize(body.content, add_bos=body.add_special)
        if body.with_pieces:
            pieces = [{"id": t, "piece": model.engine.detokenize([t])} for t in tokens]
            return {"tokens": pieces}
        return {"tokens": tokens}


@router.post("/detokenize", responses=openai_errors(AUTH, BODY, MODEL))
async def detokenize(body: DetokenizeRequest, request: Request) -> dict:
    ctx = state(request)
    async with ctx.pool.use(body.model or ctx.default_model()) as model:
        return {"content": model.engine.detokenize(body.tokens)}

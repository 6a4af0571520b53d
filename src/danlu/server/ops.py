"""Operations routes: health, Prometheus metrics, tokenize, detokenize, tokenizer_info."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from danlu.server.openapi import AUTH, BODY, MODEL, openai_errors
from danlu.server.state import state

router = APIRouter(tags=["operations"])


class TokenizeRequest(BaseModel):
    """llama-server's shape (`content`, `add_special`) or vLLM's (`prompt`,
    `add_special_tokens`), which lm-evaluation-harness's remote tokenizer sends."""

    model_config = ConfigDict(extra="forbid")

    content: str | None = Field(None, description="The text (llama-server's name).")
    prompt: str | None = Field(None, description="The text (vLLM's name).")
    model: str | None = None
    add_special: bool = Field(False, description="Add the model's BOS token if it uses one.")
    add_special_tokens: bool | None = Field(None, description="vLLM's name for add_special.")
    with_pieces: bool = Field(False, description="Also return each token's text.")

    @model_validator(mode="after")
    def _one_text(self) -> TokenizeRequest:
        if (self.content is None) == (self.prompt is None):
            raise ValueError("give the text as either 'content' or 'prompt'")
        return self

    @property
    def text(self) -> str:
        return self.content if self.content is not None else self.prompt or ""

    @property
    def bos(self) -> bool:
        return self.add_special or bool(self.add_special_tokens)


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: list[int]
    model: str | None = None


class Health(BaseModel):
    status: str = Field(description="ok, loading, or error")
    error: str | None = Field(
        None,
        description="Why: the models could not load, or a model's decoding thread has "
        "stopped or is stuck in one step.",
    )


@router.get(
    "/health",
    responses={503: {"model": Health, "description": "Loading, failed, or not decoding"}},
)
async def health(request: Request) -> JSONResponse:
    """200 only while the server can answer: its models loaded and each one's decoding
    thread alive and going round (a dead thread would leave every request waiting)."""
    ctx = state(request)
    if ctx.failure is not None:
        return JSONResponse({"status": "error", "error": ctx.failure.one_line()}, 503)
    if not ctx.ready or ctx.pool.loading:
        return JSONResponse({"status": "loading"}, status_code=503)
    problems = ctx.pool.decoding_problems()
    if problems:
        return JSONResponse({"status": "error", "error": "; ".join(problems)}, 503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", response_class=PlainTextResponse, responses=openai_errors(AUTH))
async def metrics(request: Request) -> Response:
    body = state(request).metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.post("/tokenize", responses=openai_errors(AUTH, BODY, MODEL))
async def tokenize(body: TokenizeRequest, request: Request) -> dict:
    """The ids (`tokens`), with vLLM's `count` and `max_model_len` beside them."""
    ctx = state(request)
    async with ctx.pool.use(body.model or ctx.default_model()) as model:
        tokens = model.engine.tokenize(body.text, add_bos=body.bos)
        listed: list = tokens
        if body.with_pieces:
            listed = [{"id": t, "piece": model.engine.detokenize([t])} for t in tokens]
        return {"tokens": listed, "count": len(tokens), "max_model_len": model.n_ctx}


@router.post("/detokenize", responses=openai_errors(AUTH, BODY, MODEL))
async def detokenize(body: DetokenizeRequest, request: Request) -> dict:
    """The text as `content` (llama-server's name) and `prompt` (vLLM's)."""
    ctx = state(request)
    async with ctx.pool.use(body.model or ctx.default_model()) as model:
        text = model.engine.detokenize(body.tokens)
        return {"content": text, "prompt": text}


@router.get("/tokenizer_info", responses=openai_errors(AUTH, (400, *MODEL)))
async def tokenizer_info(request: Request, model: str | None = None) -> dict:
    """vLLM's tokenizer description, for clients that tokenize through the server."""
    ctx = state(request)
    async with ctx.pool.use(model or ctx.default_model()) as loaded:
        bos, eos = loaded.engine.special_tokens()
        return {
            "tokenizer_class": "llama.cpp",
            "bos_token": bos or None,
            "eos_token": eos or None,
            "pad_token": None,
            "chat_template": loaded.template.source,
            "model_max_length": loaded.n_ctx,
            "vocab_size": loaded.engine.n_vocab,
        }

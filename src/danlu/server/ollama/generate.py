"""POST /api/generate: one prompt, through the chat template or raw, with `context` replay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from danlu.engine.tokens import check_token_ids
from danlu.model import Model, Prompt
from danlu.server.ollama.chat import refuse_truncation
from danlu.server.ollama.options import fit_window, sampling_changes
from danlu.server.ollama.respond import (
    Clock,
    Endpoint,
    Frame,
    done_fields,
    grammar_for,
    logprobs_json,
    merge_logprobs,
    merge_text,
    timestamp,
)
from danlu.server.ollama.schemas import GenerateRequest
from danlu.server.runner import stream_prompt
from danlu.server.state import ServerState


def with_context(model: Model, prompt: Prompt, context: list[int] | None) -> Prompt:
    """Continue an earlier exchange: its tokens (from a previous `context`) come first."""
    if not context:
        return prompt
    check_token_ids(context, model.engine.n_vocab, "context token id")
    tokens = prompt.tokens
    bos = model.engine.tokenize("", add_bos=True)
    if bos and tokens[:1] == bos:  # the BOS belongs at the very start, not mid-sequence
        tokens = tokens[1:]
    return Prompt(list(context) + tokens, prompt.params, prompt.notices)


class GeneratePlan:
    """The prompt to run; `context` is returned afterwards unless the prompt was raw."""

    def __init__(self, body: GenerateRequest, model: Model) -> None:
        params = sampling_changes(body.options, model.n_ctx)
        params["grammar"] = grammar_for(body.format)
        if body.logprobs:
            params["logprobs"] = body.top_logprobs
        text = body.prompt or ""
        if body.raw:
            prompt = model.prepare_text(text, **params)
        else:
            system = [{"role": "system", "content": body.system}] if body.system else []
            prompt = model.prepare_chat([*system, {"role": "user", "content": text}], **params)
            refuse_truncation(prompt, body.truncate)
            prompt = with_context(model, prompt, body.context)
        self.prompt = fit_window(model, prompt, body.options)
        self.return_context = not body.raw
        self.top_logprobs = body.top_logprobs if body.logprobs else None


async def generate(body: GenerateRequest, request: Request) -> Response:
    empty = None if body.prompt else {"response": ""}
    return await ENDPOINT.answer(body, request, empty)


def _frame(name: str, text: str, **extra: Any) -> Frame:
    return {"model": name, "created_at": timestamp(), "response": text, "done": False, **extra}


async def _frames(
    ctx: ServerState, model: Model, plan: GeneratePlan, name: str, clock: Clock, request: Request
) -> AsyncIterator[Frame]:
    generated: list[int] = []
    async for chunk in stream_prompt(ctx, model, plan.prompt, request):
        generated.extend(chunk.token_ids)
        extra = {}
        if plan.top_logprobs is not None and chunk.logprobs:
            extra["logprobs"] = logprobs_json(model, chunk.logprobs, plan.top_logprobs)
        if chunk.text or extra:
            yield _frame(name, chunk.text, **extra)
        if chunk.finish_reason:
            final = {**_frame(name, ""), **done_fields(chunk, clock)}
            if plan.return_context:
                final["context"] = plan.prompt.tokens + generated
            yield final


def merge_frames(frames: list[Frame]) -> Frame:
    if not frames:
        return {}
    merged = {**frames[-1], "response": merge_text(frames, lambda f: f["response"])}
    logprobs = merge_logprobs(frames)
    if logprobs:
        merged["logprobs"] = logprobs
    return merged


ENDPOINT = Endpoint(GeneratePlan, _frames, merge_frames)

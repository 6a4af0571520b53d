"""POST /v1/chat/completions: streamed (SSE) and not, n > 1, logprobs, JSON modes, tools."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from danlu.chat.messages import as_messages
from danlu.chat.tools import (
    ToolStreamFilter,
    has_tool_history,
    parse_tool_choice,
    prepare_tools,
    tool_specs,
)
from danlu.chat.tools.grammar import json_grammar
from danlu.engine.base import Chunk, Completion
from danlu.model import Model, Prompt
from danlu.server.openai.format import (
    completion_id,
    logprobs_content,
    sse,
    sse_error,
    sse_tail,
    usage_json,
)
from danlu.server.openai.schemas import ChatCompletionRequest
from danlu.server.runner import collect_many, hold_and_plan, merge_streams
from danlu.server.state import ServerState, state
from danlu.server.timefmt import keep_alive_seconds


def _grammar(body: ChatCompletionRequest) -> str | None:
    fmt = body.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return json_grammar(None)
    schema = fmt.json_schema.schema_ if fmt.json_schema else None
    return json_grammar(schema or None)


class ChatPlan:
    """Everything decided before generating: prompts (one per choice) and tool handling."""

    def __init__(self, body: ChatCompletionRequest, model: Model) -> None:
        params = body.sampling(body.max_completion_tokens or body.max_tokens or None)
        if body.logprobs:
            params["logprobs"] = body.top_logprobs or 0
            params["post_sampling_probs"] = bool(body.post_sampling_probs)
        grammar = _grammar(body)
        messages = as_messages([m.as_message() for m in body.messages])
        self.tools = None
        self.max_calls = 1 if body.parallel_tool_calls is False else None
        render_tools = None
        if body.tools or has_tool_history(messages):  # tool_choice "none" still needs this
            specs = tool_specs(body.tools)
            choice = parse_tool_choice(body.tool_choice, specs)
            prepared = prepare_tools(model.template, messages, specs, choice)
            messages, render_tools = prepared.messages, prepared.template_tools
            params.update(prepared.sampling(grammar))
            self.tools = prepared.format
        else:
            params["grammar"] = grammar
        self.prompts: list[Prompt] = []
        for i in range(body.n):
            seed = None if body.seed is None else body.seed + i
            self.prompts.append(
                model.prepare_chat(
                    messages,
                    tools=render_tools,
                    context_length=body.n_ctx,
                    trim=False,  # as OpenAI: a conversation that does not fit is a 400
                    **{**params, "seed": seed},
                )
            )


def _message(plan: ChatPlan, result: Completion) -> tuple[dict[str, Any], str]:
    text, reason = result.text, result.finish_reason
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if plan.tools is not None:
        parsed = plan.tools.parse(text)
        if parsed.calls:
            message["content"] = parsed.content or None
            message["tool_calls"] = [c.as_openai() for c in parsed.calls[: plan.max_calls]]
            reason = "tool_calls"
    return message, reason


async def chat_completions(body: ChatCompletionRequest, request: Request):
    ctx = state(request)
    holding = ctx.pool.use(body.model, keep_alive_seconds(body.keep_alive), jobs=body.n)
    stack, model, plan = await hold_and_plan(holding, lambda m: ChatPlan(body, m))
    if body.stream:
        # background: release the model even if the client leaves before the stream starts
        return StreamingResponse(
            _stream(ctx, model, plan, body, request, stack),
            media_type="text/event-stream",
            background=BackgroundTask(stack.aclose),
        )
    async with stack:
        results = await collect_many(ctx, model, plan.prompts, request)
    return _response(model, plan, body, results)


def _response(model: Model, plan: ChatPlan, body, results: list[Completion | None]) -> dict:
    choices, usage = [], None
    for i, result in enumerate(results):
        if result is None:
            continue
        message, reason = _message(plan, result)
        logprobs = None
        if body.logprobs:
            logprobs = {"content": logprobs_content(model, result.logprobs)}
        choices.append(
            {"index": i, "message": message, "logprobs": logprobs, "finish_reason": reason}
        )
        usage = result.usage if usage is None else _add(usage, result.usage)
    return {
        "id": completion_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model.name,
        "system_fingerprint": "danlu",
        "choices": choices,
        "usage": usage_json(usage),
    }


def _add(a, b):
    from danlu.engine.base import Usage

    # n > 1: the prompt is counted once, as OpenAI does
    return Usage(a.prompt_tokens, a.completion_tokens + b.completion_tokens, a.cached_tokens)


async def _stream(
    ctx: ServerState, model: Model, plan: ChatPlan, body, request: Request, stack: AsyncExitStack
) -> AsyncIterator[bytes]:
    cid, created = completion_id("chatcmpl"), int(time.time())

    def chunk_json(index: int, delta: dict, reason: str | None = None, logprobs=None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": reason}
        return sse(
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model.name,
                "system_fingerprint": "danlu",
                "choices": [choice],
            }
        )

    filters = [_tool_filter(plan) for _ in plan.prompts]
    usage = None
    async with stack:
        try:
            for i in range(len(plan.prompts)):
                yield chunk_json(i, {"role": "assistant", "content": ""})
            async for i, chunk in merge_streams(ctx, model, plan.prompts, request):
                for piece in _deltas(model, body, filters[i], chunk, plan.max_calls):
                    yield chunk_json(i, *piece)
                if chunk.finish_reason and chunk.usage:
                    usage = chunk.usage if usage is None else _add(usage, chunk.usage)
        except Exception as exc:  # headers are sent: report in-band, as OpenAI does
            yield sse_error(exc)
            return
    head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model.name}
    for frame in sse_tail(head, usage, body.include_usage):
        yield frame


def _tool_filter(plan: ChatPlan) -> ToolStreamFilter | None:
    return ToolStreamFilter(plan.tools) if plan.tools is not None else None


def _deltas(
    model: Model, body, tools: ToolStreamFilter | None, chunk: Chunk, max_calls: int | None
):
    """(delta, finish_reason, logprobs) triples for one engine chunk."""
    logprobs = None
    if body.logprobs and chunk.logprobs:
        logprobs = {"content": logprobs_content(model, chunk.logprobs)}
    text = tools.feed(chunk.text) if tools else chunk.text
    if text or logprobs:
        yield {"content": text}, None, logprobs
    if not chunk.finish_reason:
        return
    reason = chunk.finish_reason
    if tools is not None:
        parsed = tools.finish()
        if parsed.content:
            yield {"content": parsed.content}, None, None
        if parsed.calls:
            kept = parsed.calls[:max_calls]
            calls = [{"index": k, **c.as_openai()} for k, c in enumerate(kept)]
            yield {"tool_calls": calls}, None, None
            reason = "tool_calls"
    yield {}, reason, None

"""POST /api/chat: NDJSON streaming (the default) or one object, tools, JSON formats."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from danlu.chat.messages import as_messages
from danlu.chat.tools import (
    ToolStreamFilter,
    has_tool_history,
    parse_tool_choice,
    prepare_tools,
    tool_specs,
)
from danlu.engine.base import Chunk
from danlu.errors import ContextOverflow
from danlu.model import Model, Prompt
from danlu.server.ollama.options import sampling_changes
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
from danlu.server.ollama.schemas import ChatRequest
from danlu.server.runner import stream_prompt
from danlu.server.state import ServerState


def refuse_truncation(prompt: Prompt, truncate: bool | None) -> None:
    """truncate=false: a prompt that only fits with turns dropped is a 400, not trimmed."""
    if truncate is False and prompt.notices:
        raise ContextOverflow(
            "the conversation does not fit in the context and truncate is false",
            hint="send fewer messages, or leave truncate out to drop the oldest turns",
        )


class ChatPlan:
    """The prompt to run and, when tools were given, the format their calls come in."""

    def __init__(self, body: ChatRequest, model: Model) -> None:
        params = sampling_changes(body.options, model.n_ctx)
        if body.logprobs:
            params["logprobs"] = body.top_logprobs
        grammar = grammar_for(body.format)
        messages = as_messages([m.as_message() for m in body.messages])
        self.tools = None
        render_tools = None
        if body.tools or has_tool_history(messages):  # the client sends [] for no tools
            specs = tool_specs(body.tools)
            prepared = prepare_tools(
                model.template, messages, specs, parse_tool_choice(None, specs)
            )
            messages, render_tools = prepared.messages, prepared.template_tools
            params.update(prepared.sampling(grammar))
            self.tools = prepared.format
        else:
            params["grammar"] = grammar
        # the oldest turns give way to fit num_ctx as well as the server's own context
        window = body.options.num_ctx if body.options is not None else None
        prompt = model.prepare_chat(messages, tools=render_tools, context_length=window, **params)
        refuse_truncation(prompt, body.truncate)
        self.prompt = prompt
        self.top_logprobs = body.top_logprobs if body.logprobs else None


async def chat(body: ChatRequest, request: Request) -> Response:
    empty = None if body.messages else {"message": {"role": "assistant", "content": ""}}
    return await ENDPOINT.answer(body, request, empty)


def _frame(name: str, content: str, **extra: Any) -> Frame:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if "tool_calls" in extra:
        message["tool_calls"] = extra.pop("tool_calls")
    return {"model": name, "created_at": timestamp(), "message": message, "done": False, **extra}


async def _frames(
    ctx: ServerState, model: Model, plan: ChatPlan, name: str, clock: Clock, request: Request
) -> AsyncIterator[Frame]:
    tools = ToolStreamFilter(plan.tools) if plan.tools else None
    async for chunk in stream_prompt(ctx, model, plan.prompt, request):
        text = tools.feed(chunk.text) if tools else chunk.text
        extra = _logprobs(model, plan, chunk)
        if text or extra:
            yield _frame(name, text, **extra)
        if chunk.finish_reason:
            if tools is not None:
                for frame in tool_frames(name, tools):
                    yield frame
            yield {**_frame(name, ""), **done_fields(chunk, clock)}


def _logprobs(model: Model, plan: ChatPlan, chunk: Chunk) -> dict[str, Any]:
    if plan.top_logprobs is None or not chunk.logprobs:
        return {}
    return {"logprobs": logprobs_json(model, chunk.logprobs, plan.top_logprobs)}


def tool_frames(name: str, tools: ToolStreamFilter) -> list[Frame]:
    """What the tool filter held back: leftover text, then the calls, in one frame each."""
    parsed = tools.finish()
    frames = [_frame(name, parsed.content)] if parsed.content else []
    if parsed.calls:
        frames.append(_frame(name, "", tool_calls=[c.as_ollama() for c in parsed.calls]))
    return frames


def merge_frames(frames: list[Frame]) -> Frame:
    """The non-streaming answer: the streamed frames folded into one."""
    if not frames:
        return {}
    message: dict[str, Any] = {
        "role": "assistant",
        "content": merge_text(frames, lambda f: f["message"]["content"]),
    }
    calls = [c for f in frames for c in f["message"].get("tool_calls") or ()]
    if calls:
        message["tool_calls"] = calls
    merged = {**frames[-1], "message": message}
    logprobs = merge_logprobs(frames)
    if logprobs:
        merged["logprobs"] = logprobs
    return merged


ENDPOINT = Endpoint(ChatPlan, _frames, merge_frames)

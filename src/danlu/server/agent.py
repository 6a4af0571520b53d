"""POST /v1/agent/runs: an agent run over HTTP, its events streamed as server-sent events.

The tools a request may name are the ones that run nothing the client chose on the
server: a knowledge base (`kb`: `kb_search`) and the sandboxed code interpreter (`code`:
`run_python`, confined as docs/agent.md says, never with the network). Python functions
and MCP commands are the CLI's and the Python API's: from a request they would be code
execution on the server. The run itself (danlu.agent.loop) goes on a worker thread over a
model held from the pool; a client that leaves stops it at its next event, and the
server's stop ends it too. The route sits behind the same Guard (API keys, hosts) as
every other.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.background import BackgroundTask

from danlu.errors import DanluError, RequestTimeout
from danlu.server.openai.format import sse, sse_done, sse_error
from danlu.server.openapi import AUTH, BODY, GENERATE, openai_errors
from danlu.server.state import ServerState, state

router = APIRouter(prefix="/v1/agent", tags=["agents"], responses=openai_errors(AUTH))
DONE = object()  # the producer thread's last item
POLL_SECONDS = 0.5  # how often a waiting run checks its client, the clock and the server


class AgentRunRequest(BaseModel):
    """A task, the model to run it, and the tools it may call."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="A store model; default: the server's first.")
    task: str | None = Field(None, min_length=1, description="The task, as one user message.")
    messages: list[dict[str, Any]] | None = Field(
        None, description="Or a whole conversation to continue (OpenAI messages)."
    )
    kb: str | None = Field(None, description="A knowledge base the model may search.")
    code: bool = Field(False, description="Offer the sandboxed Python interpreter.")
    tool_choice: Literal["auto", "required", "none"] = "auto"
    max_steps: int = Field(5, ge=1, le=50, description="Rounds of tool calls at most.")
    max_tokens: int = Field(256, ge=1, description="New tokens per model turn.")
    system: str | None = None
    temperature: float | None = Field(None, ge=0.0)
    seed: int | None = None
    stream: bool = Field(True, description="Events as server-sent events; else one JSON.")

    @model_validator(mode="after")
    def _one_task(self) -> AgentRunRequest:
        if (self.task is None) == (self.messages is None):
            raise ValueError("give either 'task' or 'messages'")
        return self


@router.post("/runs", responses=openai_errors(BODY, GENERATE, (501,)))
async def agent_runs(body: AgentRunRequest, request: Request):
    """Run the task; stream each event (`thought`, `call`, `result`, `answer`, `error`) as
    a JSON object, then `{"type": "end", "answer", "trace"}` and `[DONE]`. A run past the
    server's request timeout stops (504, or an error in the stream)."""
    ctx = state(request)
    stack = AsyncExitStack()
    try:
        run = await _start(ctx, body, stack)
    except BaseException:
        await stack.aclose()
        raise
    if not body.stream:
        async with stack:
            events = [e async for e in _run_events(ctx, run, request)]
        if isinstance(events[-1], DanluError):
            raise events[-1]
        return _result_json(run, events)
    return StreamingResponse(
        _sse(ctx, run, request, stack),
        media_type="text/event-stream",
        background=BackgroundTask(stack.aclose),
    )


async def _start(ctx: ServerState, body: AgentRunRequest, stack: AsyncExitStack):
    from danlu.agent.api import tool_sources
    from danlu.agent.loop import Agent, AgentSettings
    from danlu.agent.registry import open_tools

    sampling = {"temperature": body.temperature, "seed": body.seed}
    settings = AgentSettings(
        tool_choice=body.tool_choice,
        max_steps=body.max_steps,
        max_tokens=body.max_tokens,
        system=body.system,
        sampling={k: v for k, v in sampling.items() if v is not None},
    )
    sources = tool_sources(kb=body.kb, code=body.code)
    tools_stack = ExitStack()  # the tools open (a KB checked) on a worker thread
    stack.push_async_callback(asyncio.to_thread, tools_stack.close)
    tools = await asyncio.to_thread(tools_stack.enter_context, open_tools(sources, ctx.settings))
    model = await stack.enter_async_context(ctx.pool.use(body.model or ctx.default_model()))
    agent = Agent(model, tools, settings, danlu_settings=ctx.settings)
    return agent.start(body.task if body.task is not None else body.messages)


async def _sse(
    ctx: ServerState, run, request: Request, stack: AsyncExitStack
) -> AsyncIterator[bytes]:
    answer = None
    async with stack:
        async for event in _run_events(ctx, run, request):
            if isinstance(event, BaseException):
                yield sse_error(event)
                return
            answer = event.text if event.type == "answer" else answer
            yield sse(event.to_dict())
    yield sse({"type": "end", "answer": answer, "trace": str(run.trace_path)})
    yield sse_done()


async def _run_events(ctx: ServerState, run, request: Request) -> AsyncIterator[Any]:
    """The run's events from its worker thread, until it ends, the client leaves, the
    server stops or the request's time is up (then a RequestTimeout, last)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    worker = threading.Thread(
        target=_produce, args=(iter(run), loop, queue, stop), name="danlu-agent", daemon=True
    )
    deadline = loop.time() + ctx.server.request_timeout
    worker.start()
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=POLL_SECONDS)
            except asyncio.TimeoutError:
                if loop.time() > deadline:
                    yield RequestTimeout(
                        f"the agent run took longer than {ctx.server.request_timeout:g} s",
                        hint="ask for fewer steps or tokens",
                    )
                    return
                if ctx.stopping or await request.is_disconnected():
                    return
                continue
            if item is DONE:
                return
            yield item
    finally:
        stop.set()
        await asyncio.to_thread(worker.join)  # the run's generator is closed there


def _produce(events: Iterator, loop: asyncio.AbstractEventLoop, queue, stop) -> None:
    """The run, on its own thread: each event to the queue, until the end or `stop`."""
    try:
        for event in events:
            loop.call_soon_threadsafe(queue.put_nowait, event)
            if stop.is_set():
                break
    except Exception as exc:  # a bug, not a tool's failure: reported in-band
        loop.call_soon_threadsafe(queue.put_nowait, exc)
    finally:
        events.close()  # type: ignore[attr-defined] -- closes the trace and the model job
        loop.call_soon_threadsafe(queue.put_nowait, DONE)


def _result_json(run, events: list) -> dict[str, Any]:
    result = run.collected(events)
    return {
        "answer": result.answer,
        "error": result.error,
        "events": [e.to_dict() for e in events],
        "messages": result.messages,
        "trace": result.trace,
    }

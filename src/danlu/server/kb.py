"""/v1/kb: knowledge bases over HTTP (list, show, search, add) and grounded chat.

`POST /v1/kb/{name}/chat/completions` is the OpenAI chat route with retrieval in front:
an OpenAI client pointed at `base_url=.../v1/kb/{name}` gets answers from that knowledge
base, unchanged. The last user message is the question; the conversation is replaced by
the grounded prompt (danlu.kb.answer), fitted to the model's context, and answered by
the same handler as /v1/chat/completions. A non-streamed reply also carries `sources`
and `citations`; nothing passing the relevance floor is an "I don't know" without the
model. Knowledge-base work (embedding, SQL) runs in a worker thread; embedders are loaded
once per app and spec.

`POST /v1/kb/{name}/add` reads files on the server: only under the server's `--kb-roots`
(none by default, so nothing), links out of an added folder only with `follow_links`,
files over `kb_max_file_size` skipped and an add over `kb_max_add_size` refused with a
413. Its work stops at the next batch when the client goes away, the request's time runs
out or the server stops (the file being written is rolled back); while it runs,
`GET /v1/kb/{name}` shows its progress under `ingesting`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from danlu.errors import DanluError, InvalidRequest, RequestTimeout, ShuttingDown
from danlu.server.openai.chat import chat_completions
from danlu.server.openai.format import completion_id
from danlu.server.openai.schemas import ChatCompletionRequest
from danlu.server.openapi import AUTH, BODY, GENERATE, openai_errors
from danlu.server.state import state

if TYPE_CHECKING:
    from danlu.kb import IngestReport, IngestStep
    from danlu.kb.policy import ReadPolicy

KB = (400, 404, 501, 503)  # a bad or unknown name, the kb extra missing, the store down
ADD = (413, 504, 507)  # too much to read, out of time, the disk full
POLL_SECONDS = 0.25  # how often a running add checks its client, clock and server
ADD_BATCH = 64  # chunks embedded at a time by an add: it stops within one batch when told
router = APIRouter(prefix="/v1/kb", tags=["knowledge bases"], responses=openai_errors(AUTH))


def _search_default(field: str) -> Any:
    from danlu.kb.retrieve import SearchOptions

    return SearchOptions.model_fields[field].default


class SearchRequest(BaseModel):
    """A search's query and the SearchOptions fields a client may set (not a reranker,
    which would load a model the client names); their defaults are SearchOptions'."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    k: int = Field(default_factory=lambda: _search_default("k"), ge=1, le=200)
    mode: str = Field(default_factory=lambda: _search_default("mode"))
    path_glob: str | None = None
    min_similarity: float = Field(default_factory=lambda: _search_default("min_similarity"))


class AddRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(
        min_length=1, description="Files or folders on the server, under its --kb-roots."
    )
    follow_links: bool = Field(
        False,
        description="Follow symbolic links out of the added folders (never out of the roots).",
    )


class ClientGone(DanluError):
    """The client closed the connection while its add ran; the add stopped."""

    status = 499  # nginx's 'client closed request': only the request log sees it
    code = "client_closed_request"


class Watched:
    """An add running in a worker thread. Its progress callback (on that thread) keeps the
    latest step for `GET /v1/kb/{name}` and raises `stop` once it is set; the request's
    coroutine sets it when the client goes away, the time runs out or the server stops."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.latest: IngestStep | None = None
        self.stop: DanluError | None = None
        self.timeout = state(request).server.request_timeout
        self.deadline = time.monotonic() + self.timeout

    def progress(self, step: IngestStep) -> None:
        self.latest = step
        if self.stop is not None:
            raise self.stop

    async def reason_to_stop(self) -> DanluError | None:
        if state(self.request).stopping:
            return ShuttingDown("the server is shutting down", hint="add again once it is back")
        if time.monotonic() > self.deadline:
            return RequestTimeout(
                f"the add took longer than {self.timeout:g} s; what was stored is kept",
                hint="add fewer files at a time, or raise the server's --timeout",
            )
        if await self.request.is_disconnected():
            return ClientGone("the client went away; what was stored is kept")
        return None

    async def run(self, name: str, work: Any) -> Any:
        """`work(self)` in a thread, listed under `name` while it runs, watched."""
        running = _running(self.request, name)

        def listed() -> Any:
            running[id(self)] = self
            try:
                return work(self)
            finally:
                running.pop(id(self), None)

        task = asyncio.ensure_future(asyncio.to_thread(listed))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=POLL_SECONDS)
                if not task.done() and self.stop is None:
                    self.stop = await self.reason_to_stop()
        finally:
            if not task.done():  # the request itself was cancelled: stop the work too
                self.stop = self.stop or ShuttingDown("the request was cancelled")
        return task.result()


def _running(request: Request, name: str) -> dict[int, Watched]:
    """The adds running on knowledge base `name` in this app."""
    jobs: dict = request.app.state.__dict__.setdefault("danlu_kb_adds", {})
    return jobs.setdefault(name, {})


def _progress_json(step: IngestStep | None) -> dict[str, Any]:
    if step is None:
        return {"files_done": 0, "files_total": None, "bytes_done": 0, "bytes_total": None,
                "chunks": 0, "path": None}  # fmt: skip
    return {
        "files_done": step.done, "files_total": step.total, "bytes_done": step.bytes_done,
        "bytes_total": step.bytes_total, "chunks": step.chunks, "path": step.path,
    }  # fmt: skip


def _policy(request: Request, follow_links: bool) -> ReadPolicy:
    from danlu.kb.policy import ReadPolicy

    server = state(request).server
    return ReadPolicy(
        max_file_size=server.kb_max_file_size,
        max_add_size=server.kb_max_add_size,
        follow_links=follow_links,
        roots=tuple(server.kb_roots),
    )


def _cached(request: Request, key: str, make: Any) -> Any:
    """One object per app and key (embedders, the segmenter): loading them is slow."""
    cache: dict = request.app.state.__dict__.setdefault("danlu_kb_cache", {})
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _open(request: Request, name: str):
    """Open KB `name`; its embedder comes from the app's cache (loaded once per spec)."""
    import danlu.kb

    embedders = _cached(request, "embedders", danlu.kb.EmbedderCache)
    return danlu.kb.open(name, settings=state(request).settings, embedders=embedders)


@router.get("")
async def list_kbs(request: Request) -> dict:
    import danlu.kb

    names = danlu.kb.list_names(state(request).settings)
    return {"object": "list", "data": [{"id": n, "object": "knowledge_base"} for n in names]}


@router.get("/{name}", responses=openai_errors(KB))
async def show_kb(name: str, request: Request) -> dict:
    def run() -> dict:
        import danlu.kb

        with danlu.kb.open(name, settings=state(request).settings) as kb:
            info = kb.info()
        return {
            "id": info.name, "object": "knowledge_base", "store": info.url,
            "embedder": info.embedder, "dimension": info.dimension,
            "chunking": info.chunking.model_dump(), "counts": info.counts,
        }  # fmt: skip

    shown = await asyncio.to_thread(run)
    adds = list(_running(request, name).values())
    return shown | {"ingesting": [_progress_json(w.latest) for w in adds]}


@router.post("/{name}/search", responses=openai_errors(BODY, KB))
async def search_kb(name: str, body: SearchRequest, request: Request) -> dict:
    from danlu.engine.sampling import validated
    from danlu.kb import SearchOptions

    options = validated(SearchOptions, **body.model_dump(exclude={"query"}))  # a bad mode: 400

    def run() -> list:
        with _open(request, name) as kb:
            return kb.search(body.query, options)

    return {"object": "list", "data": [h.to_dict() for h in await asyncio.to_thread(run)]}


@router.post("/{name}/add", responses=openai_errors(BODY, KB, ADD))
async def add_to_kb(name: str, body: AddRequest, request: Request) -> dict:
    policy = _policy(request, body.follow_links)

    def run(watched: Watched) -> IngestReport:
        with _open(request, name) as kb:
            paths = [Path(p) for p in body.paths]
            return kb.add(paths, watched.progress, batch=ADD_BATCH, policy=policy)

    report = await Watched(request).run(name, run)
    return {
        "added": report.added, "updated": report.updated, "unchanged": report.unchanged,
        "removed": report.removed, "chunks": report.chunks,
        "skipped": [{"path": p, "reason": why} for p, why in report.skipped],
        "duplicates": [{"path": p, "same_as": other} for p, other in report.duplicates],
    }  # fmt: skip


@router.post("/{name}/chat/completions", responses=openai_errors(BODY, GENERATE, KB))
async def kb_chat(name: str, body: ChatCompletionRequest, request: Request):
    """Retrieve for the last user message, then answer as /v1/chat/completions does.

    The same steps as `KnowledgeBase.stream_ask` (AskOptions' k, floor and answer length;
    no model without a source over the floor; the sources fitted to the context), with the
    answer itself from the OpenAI handler, so that every field of the request applies."""
    from danlu.kb import AskOptions
    from danlu.kb.answer import ABSTAIN, ground

    question = _question(body)
    limit = body.max_completion_tokens or body.max_tokens
    options = AskOptions(**({"max_tokens": limit} if limit else {}))
    hits = await asyncio.to_thread(_retrieve, request, name, question, options)
    model_name = body.model or state(request).default_model()
    if not hits:
        return _abstention(model_name, ABSTAIN)
    async with state(request).pool.use(model_name) as model:
        grounded = await asyncio.to_thread(ground, model, question, hits, options.max_tokens)
    asked = body.model_dump(exclude_unset=True) | {
        "messages": grounded.messages,
        "max_tokens": options.max_tokens,
    }
    reply = await chat_completions(ChatCompletionRequest.model_validate(asked), request)
    if isinstance(reply, dict):  # a stream has no room for them: search for the sources
        reply["sources"] = [h.to_dict() for h in grounded.sources]
        reply["citations"] = _citations(request, reply, grounded.sources)
    return reply


def _citations(request: Request, reply: dict, sources: tuple) -> list[dict]:
    from danlu.kb.answer import citations_of
    from danlu.kb.terms import Segmenter

    text = (reply["choices"][0]["message"]["content"] or "") if reply["choices"] else ""
    terms = _cached(request, "segmenter", Segmenter).query_terms
    return [c.to_dict() for c in citations_of(text, sources, terms)]


def _question(body: ChatCompletionRequest) -> str:
    for message in reversed(body.messages):
        if message.role == "user" and message.text().strip():
            return message.text()
    raise InvalidRequest("a knowledge-base chat needs a user message with text")


def _retrieve(request: Request, name: str, question: str, options: Any) -> list:
    with _open(request, name) as kb:
        return kb.sources_for(question, options)


def _abstention(model: str, text: str) -> dict:
    message = {"role": "assistant", "content": text}
    return {
        "id": completion_id("chatcmpl"), "object": "chat.completion",
        "created": int(time.time()), "model": model, "system_fingerprint": "danlu",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "sources": [], "citations": [],
    }  # fmt: skip


async def chat_or_kb(body: ChatCompletionRequest, request: Request):
    """/v1/chat/completions: a model named `kb:NAME` answers from knowledge base NAME with
    the server's default model, as /v1/kb/NAME/chat/completions does; any other name chats."""
    if not body.model.startswith("kb:"):
        return await chat_completions(body, request)
    name = body.model.removeprefix("kb:")
    plain = body.model_copy(update={"model": state(request).default_model()})
    return await kb_chat(name, plain, request)

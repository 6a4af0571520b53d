"""`danlu mcp`: danlu published to MCP clients (desktop assistants, IDEs, other agents).

Tools: `list_models` (the local store), `chat` (one answer from a local model),
`list_knowledge_bases`, `kb_search` (ranked chunks, each with its source and the number
to cite it by), `kb_ask` (an answer from a knowledge base, with its citations and
sources), `embed` (vectors from a local model). Each answers with text a model reads and
the same facts as structured content: the JSON that `--json` and the HTTP API give.

Over stdio (`serve_stdio`): the client starts `danlu mcp` and talks on its stdin and
stdout; the SDK points fd 1 at stderr while it serves, so no stray print reaches the wire.
Over streamable HTTP at /mcp (`serve_http`), behind the Guard of `danlu serve`: its API
keys (Authorization: Bearer, or X-API-Key), Host and Origin policy and body limit.

The work is danlu's own services: models come from a ModelPool (loaded on first use, kept
alive, unloaded least-recently-used first), knowledge bases open through danlu.kb with
one EmbedderCache, and blocking work runs on worker threads, off the protocol's loop.
A danlu error is the tool's one-line error; the client's model reads it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import socket
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from danlu.config import Settings
from danlu.errors import DanluError
from danlu.server.guard import Guard
from danlu.server.pool import ModelPool
from danlu.server.serving import Server
from danlu.server.settings import ServerSettings
from danlu.server.sites import SitePolicy
from danlu.units import human_params, human_size

PATH = "/mcp"  # where the streamable HTTP endpoint is, as MCP clients expect it
EXPIRY_SECONDS = 10.0  # how often models idle past their keep_alive are unloaded
INSTRUCTIONS = (
    "danlu runs language models on this machine. list_models names them; chat asks one; "
    "list_knowledge_bases, kb_search and kb_ask answer from the user's own documents, "
    "citing sources by number; embed gives vectors."
)

ModelName = Annotated[
    str | None, Field(description="A model from list_models (default: danlu's default model).")
]
KbName = Annotated[str, Field(description="A knowledge base from list_knowledge_bases.")]


class Services:
    """What the tools use: danlu's settings, a model pool, the embedders of KBs."""

    def __init__(self, serving: ServerSettings, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.serving = serving
        self.pool = ModelPool(self.settings, serving)
        self._embedders: Any = None  # an EmbedderCache, made by the first KB call

    def model_name(self, given: str | None) -> str:
        return given or (self.serving.models or [self.settings.default_model])[0]

    def open_kb(self, name: str) -> Any:
        import danlu.kb

        if self._embedders is None:
            self._embedders = danlu.kb.EmbedderCache()
        return danlu.kb.open(name, settings=self.settings, embedders=self._embedders)

    async def expire_forever(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_SECONDS)
            await self.pool.expire()


def answered(text: str, structured: dict[str, Any]) -> CallToolResult:
    """A tool's answer: text for the model, the same facts as JSON for programs."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured
    )


def as_tool(tool: Callable[..., Awaitable[Any]], services: Services) -> Callable[..., Any]:
    """`tool` with `services` bound, as the SDK reads a tool (name, doc, the signature
    less `services`); a danlu error is its one-line error (with the hint), no traceback."""

    @functools.wraps(tool)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await tool(services, *args, **kwargs)
        except DanluError as exc:
            raise ToolError(exc.one_line()) from None

    signature = inspect.signature(tool, eval_str=True)
    call.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])  # type: ignore[attr-defined]
    return call


def build(services: Services) -> MCPServer:
    """The MCP server and its tools, over `services`."""
    server = MCPServer("danlu", instructions=INSTRUCTIONS, log_level="WARNING")
    for tool in (list_models, chat, list_knowledge_bases, kb_search, kb_ask, embed):
        server.add_tool(as_tool(tool, services))
    return server


# -- the tools: `services` first, bound by build(); the rest is what the client sends -------


async def list_models(services: Services) -> CallToolResult:
    """The models in danlu's local store: name, format, size, parameters, quantization."""
    from danlu.store import Catalog

    listing = await asyncio.to_thread(Catalog(services.settings).list)
    fields = {"name", "format", "architecture", "parameters", "quantization", "size"}
    rows = [m.model_dump(include={*fields, "context_length"}) for m in listing.models]
    lines = [
        f"{m.name}: {m.format}, {human_params(m.parameters)} parameters, "
        f"{m.quantization or 'unquantized'}, {human_size(m.size)}"
        for m in listing.models
    ]
    return answered("\n".join(lines) or "no models", {"models": rows})


async def chat(
    services: Services,
    prompt: Annotated[str, Field(min_length=1, description="The user's message.")],
    model: ModelName = None,
    system: Annotated[str | None, Field(description="A system message put first.")] = None,
    max_tokens: Annotated[int, Field(ge=1, le=32768, description="Longest answer.")] = 512,
    temperature: Annotated[
        float | None, Field(ge=0, le=2, description="0 is greedy (default: the model's).")
    ] = None,
) -> CallToolResult:
    """Ask a local model: its answer to one prompt, after an optional system message."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    params: dict[str, Any] = {"max_tokens": max_tokens}
    if temperature is not None:
        params["temperature"] = temperature
    async with services.pool.use(services.model_name(model)) as loaded:
        done = await asyncio.to_thread(functools.partial(loaded.chat, messages, **params))
    usage = done.usage
    used = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
    facts = {
        "model": loaded.name, "text": done.text, "finish_reason": done.finish_reason,
        "usage": used,
    }  # fmt: skip
    return answered(done.text, facts)


async def list_knowledge_bases(services: Services) -> CallToolResult:
    """The knowledge bases kb_search and kb_ask can read."""
    import danlu.kb

    names = await asyncio.to_thread(danlu.kb.list_names, services.settings)
    return answered("\n".join(names) or "no knowledge bases", {"knowledge_bases": names})


async def kb_search(
    services: Services,
    kb: KbName,
    query: Annotated[str, Field(min_length=1, description="What to look for.")],
    k: Annotated[int, Field(ge=1, le=50, description="How many chunks.")] = 5,
    mode: Annotated[
        Literal["hybrid", "dense", "keyword"], Field(description="How chunks are ranked.")
    ] = "hybrid",
) -> CallToolResult:
    """Search a knowledge base: the best chunks, each with its source (file, page, heading)
    and a number [n] to cite it by."""

    def search() -> list:
        with services.open_kb(kb) as opened:
            return opened.search(query, k=k, mode=mode)

    hits = await asyncio.to_thread(search)
    rows = [{"n": n, "source": h.chunk.where, **h.to_dict()} for n, h in enumerate(hits, 1)]
    text = "\n\n".join(f"[{r['n']}] {r['source']}\n{r['text']}" for r in rows)
    return answered(text or "nothing matches", {"kb": kb, "query": query, "hits": rows})


async def kb_ask(
    services: Services,
    kb: KbName,
    question: Annotated[str, Field(min_length=1, description="The question.")],
    model: ModelName = None,
    max_tokens: Annotated[
        int | None, Field(ge=1, le=32768, description="Longest answer (default 512).")
    ] = None,
) -> CallToolResult:
    """Answer a question from a knowledge base with a local model, citing its sources by
    number; "I don't know" when nothing in it is close enough (no model is loaded then)."""
    from danlu.kb import AskOptions
    from danlu.kb.answer import collect

    options = AskOptions(**({"max_tokens": max_tokens} if max_tokens else {}))
    opened = await asyncio.to_thread(services.open_kb, kb)
    try:
        hits = await asyncio.to_thread(opened.sources_for, question, options)
        if hits:
            async with services.pool.use(services.model_name(model)) as loaded:
                events = opened.stream_answer(question, hits, loaded, options.max_tokens)
                answer = await asyncio.to_thread(collect, events)
        else:
            answer = await asyncio.to_thread(collect, opened.stream_answer(question, [], None))
    finally:
        opened.close()
    cited = [f"[{c.number}] {c.hit.chunk.where}" for c in answer.citations if c.hit]
    text = answer.text + ("\n\nSources:\n" + "\n".join(cited) if cited else "")
    return answered(text, {"kb": kb, **answer.to_dict()})


async def embed(
    services: Services,
    texts: Annotated[list[str], Field(min_length=1, max_length=256, description="Texts.")],
    model: ModelName = None,
) -> CallToolResult:
    """Embedding vectors of texts from a local model (L2-normalised, one per text)."""
    async with services.pool.use(services.model_name(model)) as loaded:
        vectors = await asyncio.to_thread(loaded.embed, texts)
    structured = {"model": loaded.name, "dimension": len(vectors[0]), "embeddings": vectors}
    return answered(str(structured["embeddings"]), structured)


# -- transports ---------------------------------------------------------------------------


async def serve_stdio(services: Services) -> None:
    """Serve one client on stdin/stdout until it closes them."""
    expiry = asyncio.ensure_future(services.expire_forever())
    try:
        await build(services).run_stdio_async()
    finally:
        expiry.cancel()
        await services.pool.close()


def http_app(services: Services) -> Any:
    """The streamable HTTP app at PATH, behind danlu's Guard (keys, sites, body size)."""
    serving = services.serving
    app = build(services).streamable_http_app(
        streamable_http_path=PATH,
        max_request_body_size=serving.max_body_bytes,
        # the Guard applies danlu's own Host/Origin policy (--allowed-hosts/-origins)
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    sites = SitePolicy.of(serving.allowed_origins, serving.allowed_hosts, serving.host)
    return Guard(app, keys=serving.keys(), max_body=serving.max_body_bytes, sites=sites)


def serve_http(services: Services, sock: socket.socket) -> None:
    """Serve on the listening socket `sock` until stopped (Ctrl-C, SIGTERM)."""

    async def run() -> None:
        expiry = asyncio.ensure_future(services.expire_forever())
        server = Server(http_app(services), grace=services.serving.shutdown_grace)
        try:
            await server.serve(sockets=[sock])
        finally:
            expiry.cancel()
            await services.pool.close()

    asyncio.run(run())

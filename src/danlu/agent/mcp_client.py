"""Tools from MCP servers for the agent loop: a command over stdio, or a streamable HTTP URL.

    from danlu.agent.mcp_client import open_mcp_tools

    with open_mcp_tools("python server.py", timeout=30) as tools:  # or "http://host:8000/mcp"
        ...  # list[Tool]: source "mcp:<server name>"; run(arguments) → the tool's text

A spec starting with http:// or https:// is a streamable HTTP endpoint (`headers=` adds an
API key); anything else is a command line, split as a shell splits it (but not run by
one), started with this process's environment, speaking MCP on its stdin and stdout.
Needs the `agent` extra (the official `mcp` SDK).

How a session is owned. The SDK is async (anyio): a session entered in one task and used
or left in another raises cancel-scope errors (python-sdk #79, #577), and its clients have
hung when a server died (#332, #360, #862). So:
1. each server gets one thread running an event loop of its own;
2. one task there enters the client (transport, then session), lists the tools, waits to
   be told to close, and exits the client itself: the same task, from start to end;
3. a call from any thread is submitted to that loop and waited for with a timeout; past
   it the call is cancelled (the server is told) and raises McpTimeout;
4. a server whose process exits or whose connection closes fails the call in flight and
   every later one with McpServerGone (one that ends before it is ready: with the last
   line it wrote to stderr, which is otherwise kept out of the terminal);
5. closing wakes the owner task, which exits the client (stdin closed, then SIGTERM and
   SIGKILL: the SDK's bounded shutdown); the thread is joined with a bound.
Every failure is a one-line `danlu.errors.McpError` with a hint; a tool that answers with
an error raises McpError too, which the loop gives the model as an observation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from danlu.agent.tools import DEFAULT_TIMEOUT, Tool
from danlu.chat.tools.types import EMPTY_PARAMETERS, ToolSpec
from danlu.errors import InvalidRequest, McpError, McpServerGone, McpTimeout
from danlu.extras import require

CONNECT_TIMEOUT = 60.0  # seconds to start a server, shake hands and list its tools
CLOSE_TIMEOUT = 10.0  # the SDK's shutdown is bounded: 2 s after stdin closes, 2 after SIGTERM
BACKSTOP = 5.0  # seconds past a call's own timeout before its caller stops waiting regardless
SSE_READ_TIMEOUT = 300.0  # the SDK's default for an HTTP server's event stream
MAX_PAGES = 100  # tools/list pages read: a server that pages forever cannot hang the start
SHOWN = 80  # characters of a spec or a server's line repeated in an error
CHATTER = re.compile(r"\b(INFO|DEBUG)\b")  # a server's log lines at these levels
CONNECTION_CLOSED, REQUEST_TIMEOUT = -32000, -32001  # MCP's (JSON-RPC) error codes


@dataclass(frozen=True)
class Endpoint:
    """Where a server is: a streamable HTTP `url`, or the `argv` of a stdio command."""

    spec: str
    url: str | None = None
    argv: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> Endpoint:
        text = spec.strip()
        if text.startswith(("http://", "https://")):
            return cls(text, url=text)
        try:
            argv = tuple(shlex.split(text))
        except ValueError as exc:
            raise InvalidRequest(f"cannot read MCP server command '{_cut(text)}': {exc}") from None
        if not argv:
            raise InvalidRequest(
                "an MCP server spec is empty",
                hint='give a command such as "python server.py" or a URL such as '
                "http://localhost:8000/mcp",
            )
        return cls(text, argv=argv)

    @property
    def label(self) -> str:
        """A name for messages until the server names itself: host:port, or the script."""
        if self.url is not None:
            return urlsplit(self.url).netloc or self.url
        script = next((a for a in reversed(self.argv) if not a.startswith("-")), self.argv[0])
        return os.path.splitext(os.path.basename(script))[0] or self.argv[0]


class McpSession:
    """One MCP server, connected by a task on a thread of its own (see the module's doc)."""

    def __init__(
        self,
        endpoint: Endpoint,
        timeout: float,
        connect_timeout: float = CONNECT_TIMEOUT,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.endpoint, self.timeout, self.headers = endpoint, timeout, headers or {}
        self.connect_timeout = connect_timeout
        self.name = endpoint.label
        self._ready: concurrent.futures.Future[list[Any]] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._owner: asyncio.Task | None = None
        self._closing: asyncio.Event | None = None
        self._client: Any = None
        self._ended: McpError | None = None  # why the session ended, once it has
        # the server's stderr, kept out of the terminal; closed by close()
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._thread = threading.Thread(target=self._run, name=f"danlu-mcp-{self.name}")
        self._thread.daemon = True  # a server that outlives every bound must not hold the exit

    # -- the caller's side ------------------------------------------------------------------

    def open(self) -> list[Tool]:
        """Start the server (or connect), and its tools; a failure is one McpError."""
        self._thread.start()
        try:
            listed = self._ready.result(self.connect_timeout)
        except concurrent.futures.TimeoutError:
            self.close()
            raise McpTimeout(
                f"MCP server '{_cut(self.endpoint.spec)}' did not start within "
                f"{self.connect_timeout:g} s{self._last_words()}",
                hint="check that the command runs an MCP server on stdio",
            ) from None
        except McpError:
            self.close()
            raise
        return [self._tool(listed_tool) for listed_tool in listed]

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        """Call tool `name`; its text, or McpError / McpTimeout / McpServerGone."""
        loop = self._loop
        if self._ended is not None or loop is None:
            raise self._gone()
        try:
            future = asyncio.run_coroutine_threadsafe(self._call(name, arguments), loop)
        except RuntimeError:  # the loop has closed meanwhile
            raise self._gone() from None
        try:
            return future.result(self.timeout + BACKSTOP)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise self._timeout(name) from None
        except concurrent.futures.CancelledError:  # the session closed under the call
            raise self._gone() from None

    def close(self) -> None:
        """End the session and the server; waits at most CLOSE_TIMEOUT (plus the SDK's)."""
        loop = self._loop
        if loop is not None:
            with suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(self._stop)
        if self._thread.is_alive():
            self._thread.join(CLOSE_TIMEOUT)
        self._stderr.close()

    # -- the owner task, on the session's loop ----------------------------------------------

    def _run(self) -> None:
        asyncio.run(self._own())

    async def _own(self) -> None:
        from mcp import Client

        self._loop, self._owner = asyncio.get_running_loop(), asyncio.current_task()
        self._closing = asyncio.Event()
        try:
            async with AsyncExitStack() as stack:  # entered and left by this task alone
                client = await stack.enter_async_context(Client(await self._transport(stack)))
                self._client = client
                self.name = getattr(client.server_info, "name", None) or self.name
                self._ready.set_result(await self._list(client))
                await self._closing.wait()
            self._ended = McpServerGone(f"MCP server '{self.name}' was closed")
        except BaseException as exc:  # the thread's end: every cause is kept
            self._ended = self._failure(exc)
            if not self._ready.done():
                self._ready.set_exception(self._ended)

    def _stop(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if not self._ready.done() and self._owner is not None:
            self._owner.cancel()  # still connecting: stop that (the SDK's exit is shielded)

    async def _transport(self, stack: AsyncExitStack) -> Any:
        from mcp.client.stdio import StdioServerParameters, stdio_client
        from mcp.client.streamable_http import streamable_http_client

        if self.endpoint.url is not None:
            import httpx2  # the SDK's HTTP client; one of our own carries the headers

            # the SDK's own read timeout: its event stream idles between a server's messages
            read = max(SSE_READ_TIMEOUT, self.timeout + BACKSTOP)
            timeout = httpx2.Timeout(self.connect_timeout, read=read)
            http = httpx2.AsyncClient(headers=self.headers, timeout=timeout)
            await stack.enter_async_context(http)
            return streamable_http_client(self.endpoint.url, http_client=http)
        command, *args = self.endpoint.argv
        if shutil.which(command) is None:
            raise McpError(
                f"cannot start MCP server '{_cut(self.endpoint.spec)}': "
                f"command '{_cut(command)}' not found",
                hint="give a command on PATH, or the path to one",
            )
        params = StdioServerParameters(command=command, args=args, env=dict(os.environ))
        return stdio_client(params, errlog=self._stderr)

    async def _list(self, client: Any) -> list[Any]:
        tools, cursor = [], None
        for _ in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools += page.tools
            if (cursor := page.next_cursor) is None:
                break
        return tools

    async def _call(self, name: str, arguments: dict[str, Any]) -> str:
        from mcp import MCPError

        try:
            result = await self._client.call_tool(name, arguments, self.timeout)
        except MCPError as exc:
            raise self._from_sdk(exc, name) from None
        text = text_of(result)
        if result.is_error:
            raise McpError(
                f"MCP tool '{name}' of '{self.name}' failed: {_first_line(text) or 'no reason'}",
                hint="the tool's own answer: other arguments may do",
            )
        return text

    def _tool(self, listed: Any) -> Tool:
        spec = ToolSpec(
            name=listed.name,
            description=listed.description or listed.title or "",
            parameters=listed.input_schema or dict(EMPTY_PARAMETERS),
        )
        run = partial(self.call, listed.name)
        return Tool(spec=spec, run=run, timeout=self.timeout, source=f"mcp:{self.name}")

    # -- errors -----------------------------------------------------------------------------

    def _from_sdk(self, exc: Exception, name: str) -> McpError:
        code = getattr(getattr(exc, "error", None), "code", None)
        if code == REQUEST_TIMEOUT:
            return self._timeout(name)
        if code == CONNECTION_CLOSED:
            return self._gone()
        return McpError(
            f"MCP server '{self.name}' refused '{name}': {_first_line(str(exc))}",
            hint="check the tool's name and arguments against its schema",
        )

    def _failure(self, exc: BaseException) -> McpError:
        """Why the owner task ended, as one McpError (an SDK error may be in a group)."""
        leaf = _leaf(exc)
        if isinstance(leaf, McpError):
            return leaf
        where = f"'{_cut(self.endpoint.spec)}'"
        if self._ready.done():
            return self._gone()
        if isinstance(leaf, asyncio.CancelledError):
            return McpServerGone(f"MCP server {where} was closed while it was starting")
        if self.endpoint.url is not None:
            return McpError(
                f"cannot reach MCP server {where}: {_first_line(str(leaf)) or type(leaf).__name__}",
                hint="check the URL (streamable HTTP, usually ending in /mcp), that the server "
                "runs, and the API key it wants (headers)",
            )
        return McpServerGone(
            f"MCP server {where} ended before it was ready{self._last_words()}",
            hint="check that the command runs an MCP server on stdio",
        )

    def _gone(self) -> McpServerGone:
        return McpServerGone(
            f"MCP server '{self.name}' is gone: its process exited or its connection closed",
            hint="restart the agent; check the server on its own",
        )

    def _timeout(self, name: str) -> McpTimeout:
        return McpTimeout(
            f"MCP tool '{name}' of '{self.name}' did not answer within {self.timeout:g} s",
            hint="raise the tool timeout, or check the server",
        )

    def _last_words(self) -> str:
        """': <the last line the server wrote to stderr>', or '' (log lines are no reason)."""
        try:
            self._stderr.seek(0)
            lines = [line.strip() for line in self._stderr.read().splitlines()]
        except (OSError, ValueError):  # closed
            return ""
        lines = [line for line in lines if line and not CHATTER.search(line)]
        return f": {_cut(lines[-1])}" if lines else ""


def text_of(result: Any) -> str:
    """A CallToolResult as text: its text blocks, a note for any other kind of content,
    or its structured content as JSON when it has no blocks."""
    parts = []
    for block in result.content:
        resource = getattr(block, "resource", None)
        if block.type == "text":
            parts.append(block.text)
        elif resource is not None and getattr(resource, "text", None) is not None:
            parts.append(resource.text)
        else:
            kind = getattr(block, "mime_type", None) or getattr(block, "uri", None) or ""
            parts.append(f"[{block.type} content {kind}]".replace(" ]", "]"))
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


@contextmanager
def open_mcp_tools(
    spec: str,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> Iterator[list[Tool]]:
    """The tools of the MCP server at `spec` (a command or a URL), while the block runs.

    `timeout` bounds each call (seconds) and is each Tool's timeout; `connect_timeout`
    bounds starting the server and listing its tools. `headers` go with every HTTP request
    (an API key: {"Authorization": "Bearer KEY"})."""
    require("mcp", "agent", "MCP tools")
    session = McpSession(Endpoint.parse(spec), timeout, connect_timeout, headers)
    tools = session.open()
    try:
        yield tools
    finally:
        session.close()


def _leaf(exc: BaseException) -> BaseException:
    """The first exception at the bottom of nested exception groups."""
    while getattr(exc, "exceptions", None):  # an ExceptionGroup (a backport on 3.10)
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def _first_line(text: str) -> str:
    return _cut(next((line.strip() for line in text.splitlines() if line.strip()), ""))


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"

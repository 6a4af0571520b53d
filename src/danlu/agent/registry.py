"""Every source of tools through one table: a kind → the builder that makes its `Tool`s.

| kind       | what names it                          | tools                                 |
| ---------- | -------------------------------------- | ------------------------------------- |
| `tool`     | a ready `Tool`                         | itself                                |
| `function` | a Python callable                      | one, its schema from the signature    |
| `import`   | `module:function` (the CLI's --tool)   | one, as `function`                    |
| `kb`       | a knowledge base's name                | `kb_search`                           |
| `code`     | `SandboxSettings` or None              | `run_python`                          |
| `model`    | a store model's name                   | `ask_NAME`                            |
| `mcp`      | a server command or URL                | the server's tools (agent/mcp_client) |

A new kind is one more entry in `SOURCES`, not a branch in the loop or the CLI.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from danlu.agent.functions import function_tool, import_function
from danlu.agent.sources import ToolContext, code_tools, kb_tools, model_tools
from danlu.agent.tools import DEFAULT_TIMEOUT, Tool
from danlu.config import Settings
from danlu.errors import InvalidParameter

Builder = Callable[[Any, ToolContext], list[Tool]]

MCP_MODULE = "danlu.agent.mcp_client"


def _function(fn: Callable[..., Any], ctx: ToolContext) -> list[Tool]:
    return [function_tool(fn, timeout=ctx.timeout_or(DEFAULT_TIMEOUT))]


def _imported(spec: str, ctx: ToolContext) -> list[Tool]:
    return _function(import_function(spec), ctx)


def _mcp(target: str, ctx: ToolContext) -> list[Tool]:
    """An MCP server's tools, through the MCP client when it is installed."""
    try:
        client = importlib.import_module(MCP_MODULE)
    except ImportError:
        raise InvalidParameter(
            "MCP tools need danlu.agent.mcp_client, which this install does not have",
            hint="use --tool, --kb or --code meanwhile",
        ) from None
    opened = client.open_mcp_tools(target, ctx.timeout_or(DEFAULT_TIMEOUT))
    return list(ctx.stack.enter_context(opened))  # the session closes with the stack


def _ready(tool: Tool, ctx: ToolContext) -> list[Tool]:
    return [tool]


SOURCES: dict[str, Builder] = {
    "tool": _ready,
    "function": _function,
    "import": _imported,
    "kb": kb_tools,
    "code": code_tools,
    "model": model_tools,
    "mcp": _mcp,
}


@contextmanager
def open_tools(
    sources: Iterable[tuple[str, Any]],
    settings: Settings | None = None,
    timeout: float | None = None,
) -> Iterator[list[Tool]]:
    """The tools of every `(kind, what)` source, in order, while the block runs; what they
    hold (MCP sessions, loaded models) is closed after it. Names must not repeat."""
    with ExitStack() as stack:
        ctx = ToolContext(settings or Settings(), timeout, stack)
        tools: list[Tool] = []
        for kind, target in sources:
            builder = SOURCES.get(kind)
            if builder is None:
                known = ", ".join(sorted(SOURCES))
                raise InvalidParameter(f"unknown tool source '{kind}'", hint=f"known: {known}")
            tools += builder(target, ctx)
        _check_unique(tools)
        yield tools


def as_source(item: Any) -> tuple[str, Any]:
    """What the Python API's `tools=` items mean: a Tool as it is, a callable, or a
    `module:function` string."""
    if isinstance(item, Tool):
        return ("tool", item)
    if isinstance(item, str):
        return ("import", item)
    if callable(item):
        return ("function", item)
    raise InvalidParameter(
        f"{item!r} is not a tool", hint="give a function, a 'module:function' string or a Tool"
    )


def _check_unique(tools: list[Tool]) -> None:
    names = [t.name for t in tools]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidParameter(
            f"two tools share the name {', '.join(repeated)}", hint="rename one of them"
        )

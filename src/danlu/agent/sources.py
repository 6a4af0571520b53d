"""danlu's own capabilities as tools: a knowledge base, the code interpreter, other models.

Each builder takes what names the source (a KB name, sandbox settings, a store model
name) and a `ToolContext`, checks what can be checked before the run (the KB exists),
and returns `Tool`s. The registry (registry.py) maps source kinds to these builders.
"""

from __future__ import annotations

import re
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from danlu.agent.isolation import Isolation
from danlu.agent.sandbox import SandboxSettings, run_code
from danlu.agent.tools import DEFAULT_TIMEOUT, Tool
from danlu.chat.tools.types import ToolSpec
from danlu.config import Settings
from danlu.kb.base import EmbedderCache, open_kb

KB_HITS = 4  # passages a search returns to the model
ASK_TOKENS = 256  # how long another model's answer may be
SANDBOX_MARGIN = 10.0  # seconds past the sandbox's own wall clock before the loop gives up


@dataclass(frozen=True)
class ToolContext:
    """What every builder may need: where danlu keeps things, a timeout to impose, and the
    stack that closes what the tools hold (a server, a loaded model) when the run is over."""

    settings: Settings
    timeout: float | None = None  # None: each tool's own default
    stack: ExitStack = field(default_factory=ExitStack)

    def timeout_or(self, default: float) -> float:
        return self.timeout if self.timeout is not None else default


def _string_parameter(name: str, description: str) -> dict[str, Any]:
    properties = {name: {"type": "string", "description": description}}
    return {"type": "object", "properties": properties, "required": [name]}


def _suffix(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")


# -- a knowledge base ----------------------------------------------------------------------


def kb_tools(name: str, ctx: ToolContext, *, tool_name: str = "kb_search") -> list[Tool]:
    """`kb_search(query)`: the KB's best passages, each headed by its source."""
    with open_kb(name, settings=ctx.settings):  # a KB that does not exist fails here, now
        pass
    embedders = EmbedderCache()  # the embedder loads once, on the first search

    def search(arguments: dict[str, Any]) -> str:
        with open_kb(name, settings=ctx.settings, embedders=embedders) as kb:
            hits = kb.search(arguments["query"], k=KB_HITS)
        if not hits:
            return "no passages found"
        return "\n\n".join(_passage(i, hit) for i, hit in enumerate(hits, 1))

    spec = ToolSpec(
        tool_name,
        f"Search the knowledge base '{name}'; returns the passages that best match the "
        "query, each with its source.",
        _string_parameter("query", "What to look for."),
    )
    return [Tool(spec, search, ctx.timeout_or(DEFAULT_TIMEOUT), f"kb:{name}")]


def _passage(number: int, hit) -> str:
    chunk = hit.chunk
    where = chunk.path + (f", page {chunk.page}" if chunk.page else "")
    return f"[{number}] source: {where}\n{chunk.text.strip()}"


# -- the code interpreter ------------------------------------------------------------------


def code_tools(settings: SandboxSettings | None, ctx: ToolContext) -> list[Tool]:
    """`run_python(code)`: the code runs in the sandbox (agent/sandbox.py); the model reads
    its exit status, stdout and stderr."""
    sandbox = settings or SandboxSettings()
    isolation = Isolation()  # probed once, on the first run

    def run(arguments: dict[str, Any]) -> str:
        return run_code(arguments["code"], sandbox, isolation).observation()

    spec = ToolSpec(
        "run_python",
        "Run Python code in a sandbox (no network, a fresh empty folder) and return its "
        "exit status, stdout and stderr. Print what you want to see.",
        _string_parameter("code", "The Python program to run."),
    )
    timeout = ctx.timeout_or(sandbox.wall_seconds + SANDBOX_MARGIN)
    return [Tool(spec, run, timeout, "code")]


# -- other local models --------------------------------------------------------------------


def model_tools(name: str, ctx: ToolContext) -> list[Tool]:
    """`ask_NAME(question)`: another store model answers; it loads on the first question."""
    from danlu.model import load  # the engine is imported only when this source is used

    lock = threading.Lock()  # one question at a time: one loaded context
    loaded: list[Any] = []
    ctx.stack.callback(lambda: [m.close() for m in loaded])

    def ask(arguments: dict[str, Any]) -> str:
        with lock:
            if not loaded:
                loaded.append(load(name, settings=ctx.settings))
            messages = [{"role": "user", "content": arguments["question"]}]
            return loaded[0].chat(messages, max_tokens=ASK_TOKENS).text.strip()

    spec = ToolSpec(
        f"ask_{_suffix(name)}",
        f"Ask the local model '{name}' a question and return its answer.",
        _string_parameter("question", "The question, complete in itself."),
    )
    return [Tool(spec, ask, ctx.timeout_or(120.0), f"model:{name}")]

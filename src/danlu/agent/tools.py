"""A tool the agent loop can run: its spec (what the model sees) and how to run it.

Every source of tools — Python functions, MCP servers, danlu's own capabilities, the code
interpreter — hands the loop `Tool`s; the loop validates the arguments against
`spec.parameters`, runs `run` under `timeout`, and gives the model the returned text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from danlu.chat.tools.types import ToolSpec

DEFAULT_TIMEOUT = 30.0  # seconds a tool may run before the loop reports a timeout


@dataclass(frozen=True)
class Tool:
    """One runnable tool."""

    spec: ToolSpec  # name, description and the JSON schema of its arguments
    run: Callable[[dict[str, Any]], str]  # validated arguments → the observation text
    timeout: float = DEFAULT_TIMEOUT  # seconds; past it, the call is a timeout observation
    source: str = "python"  # where it came from: python, mcp:NAME, kb:NAME, code

    @property
    def name(self) -> str:
        return self.spec.name

"""`danlu.agent(...)`: a model with tools, from Python, in one call.

    import danlu

    def get_weather(city: str) -> str:
        \"\"\"The weather in a city.

        Args:
            city: The city's name.
        \"\"\"
        return f"23 °C and sunny in {city}"

    result = danlu.agent("smollm2", "What is the weather in Paris?", tools=[get_weather])
    print(result.answer, result.trace)

`stream_agent` yields the events instead, as they happen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from danlu.agent.events import AgentResult
from danlu.agent.loop import Agent, AgentRun, AgentSettings, Choice
from danlu.agent.registry import as_source, open_tools
from danlu.agent.sandbox import SandboxSettings
from danlu.config import Settings
from danlu.model import Model, load


def tool_sources(
    tools: Sequence[Any] = (),
    *,
    kb: str | None = None,
    code: bool | SandboxSettings = False,
    models: Sequence[str] = (),
    mcp: Sequence[str] = (),
) -> list[tuple[str, Any]]:
    """The `(kind, what)` sources of the registry for the API's and the CLI's options."""
    sources = [as_source(t) for t in tools]
    if kb:
        sources.append(("kb", kb))
    if code:
        sources.append(("code", code if isinstance(code, SandboxSettings) else None))
    sources += [("model", name) for name in models]
    sources += [("mcp", spec) for spec in mcp]
    return sources


@contextmanager
def agent_run(
    model: str | Model,
    task: str | Sequence[Any],
    tools: Sequence[Any] = (),
    *,
    kb: str | None = None,
    code: bool | SandboxSettings = False,
    models: Sequence[str] = (),
    mcp: Sequence[str] = (),
    tool_choice: Choice = "auto",
    max_steps: int = 5,
    max_tokens: int = 256,
    system: str | None = None,
    trace: str | Path | None = None,
    timeout: float | None = None,
    settings: Settings | None = None,
    **sampling: Any,
) -> Iterator[AgentRun]:
    """A run of `task` by `model` (a store name or a loaded Model), not yet begun: iterate
    it for the events. The model (when named) and the tools are closed afterwards.

    `tools`: functions, `module:function` strings or `Tool`s; `kb`: a knowledge base's
    name (`kb_search`); `code`: the sandboxed `run_python` (True, or SandboxSettings);
    `models`: other store models to ask (`ask_NAME`); `mcp`: MCP server commands or URLs.
    `timeout` overrides every tool's own; `sampling`: temperature, seed, ... per step.
    """
    run_settings = AgentSettings(
        tool_choice=tool_choice,
        max_steps=max_steps,
        max_tokens=max_tokens,
        system=system,
        trace=Path(trace) if trace is not None else None,
        sampling=sampling,
    )
    sources = tool_sources(tools, kb=kb, code=code, models=models, mcp=mcp)
    settings = settings or Settings()
    with ExitStack() as stack:
        opened = stack.enter_context(open_tools(sources, settings, timeout))
        if isinstance(model, str):
            model = stack.enter_context(load(model, settings=settings))
        yield Agent(model, opened, run_settings, danlu_settings=settings).start(task)


def stream_agent(model: str | Model, task: str | Sequence[Any], *args: Any, **options: Any):
    """The events of a run as they happen; takes what `agent_run` takes."""
    with agent_run(model, task, *args, **options) as run:
        yield from run


def agent(model: str | Model, task: str | Sequence[Any], *args: Any, **options: Any) -> AgentResult:
    """Run `task` to its end: the answer, the events, the messages and the trace's path.
    Takes what `agent_run` takes."""
    with agent_run(model, task, *args, **options) as run:
        return run.result()

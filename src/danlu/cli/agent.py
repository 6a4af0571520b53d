"""`danlu agent MODEL "task"`: a model with tools, its thoughts, calls and results printed
as they stream; a chat of tasks when no task is given."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from danlu.cli.style import Style

Opt = typer.Option
RESULT_SHOWN = 300  # characters of a tool's result printed (the model reads it all)
PROMPT = "task> "


def agent(
    model: Annotated[str, typer.Argument(help="Model name.")],
    task: Annotated[
        str | None, typer.Argument(help="The task; omit for an interactive loop.")
    ] = None,
    tool: Annotated[
        list[str] | None,
        Opt("--tool", help="A Python function as a tool: module:function (repeatable)."),
    ] = None,
    kb: Annotated[str | None, Opt("--kb", help="A knowledge base to search (kb_search).")] = None,
    code: Annotated[
        bool, Opt("--code", help="A sandboxed Python interpreter (run_python).")
    ] = False,
    ask: Annotated[
        list[str] | None, Opt("--ask", help="Another store model to ask questions (repeatable).")
    ] = None,
    mcp: Annotated[
        list[str] | None,
        Opt("--mcp", help="An MCP server: a command (stdio) or an http(s) URL (repeatable)."),
    ] = None,
    tool_choice: Annotated[
        str, Opt("--tool-choice", help="auto, required (the first step must call) or none.")
    ] = "auto",
    max_steps: Annotated[
        int, Opt("--max-steps", help="Rounds of tool calls before the model must answer.")
    ] = 5,
    max_tokens: Annotated[int, Opt("--n-predict", "-n", help="Max new tokens per step.")] = 256,
    timeout: Annotated[
        float | None, Opt("--timeout", help="Seconds each tool call may take (default: its own).")
    ] = None,
    system: Annotated[str | None, Opt("--system", help="System prompt.")] = None,
    trace: Annotated[
        Path | None,
        Opt("--trace", help="Write the JSONL trace here (default: DANLU_HOME/agents/)."),
    ] = None,
    ctx_size: Annotated[int | None, Opt("--ctx-size", "-c", help="Context length.")] = None,
    threads: Annotated[int | None, Opt("--threads", "-t", help="CPU threads.")] = None,
    temp: Annotated[float | None, Opt("--temp", help="Temperature; 0 is greedy.")] = None,
    seed: Annotated[int | None, Opt("--seed", "-s")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the run as one JSON object.")] = False,
) -> int:
    """Run a model with tools: it calls them, reads their results, and answers."""
    from danlu.agent.api import tool_sources
    from danlu.agent.loop import Agent, AgentSettings
    from danlu.agent.registry import open_tools
    from danlu.config import Settings
    from danlu.model import load

    settings = Settings()
    sampling = {k: v for k, v in {"temperature": temp, "seed": seed}.items() if v is not None}
    run_settings = AgentSettings(
        tool_choice=tool_choice,  # type: ignore[arg-type] -- checked by AgentSettings
        max_steps=max_steps,
        max_tokens=max_tokens,
        system=system,
        trace=trace,
        sampling=sampling,
    )
    sources = tool_sources(tool or [], kb=kb, code=code, models=ask or [], mcp=mcp or [])
    # the tools first: a bad --tool or --kb is an error before the model loads
    with (
        open_tools(sources, settings, timeout) as tools,
        load(model, settings=settings, n_ctx=ctx_size, threads=threads) as loaded,
    ):
        runner = Agent(loaded, tools, run_settings, danlu_settings=settings)
        if task is not None:
            return _show(runner.start(task), Style(), as_json)
        return _interactive(runner)


def _interactive(runner) -> int:
    """One task a line; each run continues the conversation and writes its own trace."""
    style, history = Style(), []
    while True:
        try:
            line = input(PROMPT).strip()
        except EOFError:
            return 0
        if not line:
            continue
        run = runner.start([*history, {"role": "user", "content": line}])
        _show(run, style, as_json=False)
        history = [m.as_template_dict() for m in run.messages]


def _show(run, style: Style, as_json: bool) -> int:
    if as_json:
        result = run.result()
        print(json.dumps(_run_json(result), ensure_ascii=False, indent=2))
        return 1 if result.error else 0
    code = 0
    for event in run:
        code = _print_event(event, style) or code
    print(f"{style.dim}trace: {run.trace_path}{style.reset}", file=sys.stderr)
    return code


def _print_event(event, style: Style) -> int:
    from danlu.agent import events as ev

    if isinstance(event, ev.Thought):
        print(f"{style.answer}{event.text}{style.reset}", end="", flush=True)
    elif isinstance(event, ev.Call):
        arguments = json.dumps(event.arguments, ensure_ascii=False)
        print(f"\n{style.dim}→ {event.name}({arguments}){style.reset}", flush=True)
    elif isinstance(event, ev.Result):
        label = event.name if event.ok else f"{event.name} ({event.kind})"
        print(f"{style.dim}← {label}: {_short(event.text)}{style.reset}", flush=True)
    elif isinstance(event, ev.Answer):
        print()
        if event.reason in ("max_steps", "repeat"):
            why = "the step limit" if event.reason == "max_steps" else "a repeated call"
            print(f"{style.dim}(tools were taken away after {why}){style.reset}", file=sys.stderr)
    elif isinstance(event, ev.Error):
        print(f"\nerror: {event.message}", file=sys.stderr)
        return 1
    return 0


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= RESULT_SHOWN else flat[:RESULT_SHOWN] + " …"


def _run_json(result) -> dict[str, Any]:
    return {
        "answer": result.answer,
        "error": result.error,
        "calls": [c.to_dict() for c in result.calls],
        "results": [r.to_dict() for r in result.results],
        "trace": result.trace,
    }

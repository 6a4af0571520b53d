"""Running the calls of one step: validate, run under a timeout, all at once, never raise.

Each call's arguments are checked against its tool's JSON schema with `jsonschema` before
anything runs. Valid calls then run together, each on a daemon thread of its own, and the
step waits for each until its tool's timeout: a thread cannot be killed, so a tool that
hangs is left behind (a daemon thread does not hold up the process's exit) and reported
as a timeout. Whatever goes wrong comes back as a `Result` the model reads, not an error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from danlu.agent.events import Call, Result
from danlu.agent.tools import Tool
from danlu.extras import require

MAX_OBSERVATION = 4000  # characters of a tool's text the model is shown; the rest is cut


def check_arguments(tool: Tool, arguments: dict[str, Any]) -> str | None:
    """None when `arguments` match the tool's schema, else what is wrong, in one line."""
    jsonschema = require("jsonschema", "agent", "checking tool arguments")
    try:
        jsonschema.validate(arguments, tool.spec.parameters)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
        return f"{where}: {exc.message}"
    except jsonschema.SchemaError as exc:
        return f"the tool's own schema is invalid: {exc.message}"
    return None


@dataclass
class _Running:
    """One call on its thread: what it returned or raised, once it has."""

    call: Call
    tool: Tool
    started: float = field(default_factory=time.monotonic)
    text: str | None = None
    failure: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        name = f"danlu-tool-{self.tool.name}"
        threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        try:
            self.text = str(self.tool.run(dict(self.call.arguments)))
        except BaseException as exc:  # a tool's failure is the model's to read
            self.failure = exc
        finally:
            self.done.set()

    def result(self, limit: int) -> Result:
        waited = self.done.wait(max(0.0, self.started + self.tool.timeout - time.monotonic()))
        seconds = round(time.monotonic() - self.started, 3)
        if not waited:
            text = f"error: {self.tool.name} did not finish within {self.tool.timeout:g} s"
            return _result(self.call, text, "timeout", seconds)
        if self.failure is not None:
            text = f"error: {type(self.failure).__name__}: {self.failure}"
            return _result(self.call, text, "error", seconds)
        return _result(self.call, _cut(self.text or "", limit), "ok", seconds)


def run_calls(
    calls: list[Call],
    tools: dict[str, Tool],
    *,
    refuse: Callable[[Call], str | None] = lambda call: None,
    limit: int = MAX_OBSERVATION,
) -> list[Result]:
    """One Result per call, in the calls' order; the valid ones run in parallel.

    `refuse` may turn a call away before it runs (a repeated call), with the text to say.
    """
    results: dict[int, Result] = {}
    running: dict[int, _Running] = {}
    for i, call in enumerate(calls):
        early = _before_run(call, tools, refuse)
        if early is not None:
            results[i] = early
        else:
            running[i] = _Running(call, tools[call.name])
            running[i].start()
    for i, job in running.items():
        results[i] = job.result(limit)
    return [results[i] for i in range(len(calls))]


def _before_run(call: Call, tools: dict[str, Tool], refuse) -> Result | None:
    tool = tools.get(call.name)
    if tool is None:
        known = ", ".join(sorted(tools)) or "none"
        return _result(
            call, f"error: there is no tool named {call.name}; tools: {known}", "unknown"
        )
    problem = check_arguments(tool, call.arguments)
    if problem is not None:
        return _result(call, f"error: invalid arguments for {call.name}: {problem}", "invalid")
    said = refuse(call)
    return _result(call, said, "repeat") if said is not None else None


def _result(call: Call, text: str, kind, seconds: float = 0.0) -> Result:
    return Result(call.step, call.id, call.name, text, kind, seconds)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… {len(text) - limit} more characters cut]"

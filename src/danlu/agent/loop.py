"""The agent loop: messages → model → tool calls → tools → tool messages → model → … → answer.

One step is one model turn, prepared exactly as the server prepares a chat request with
tools (`chat/tools.prepare_tools`: the format's instructions or the template's own tools,
the call grammar, the parser), then:

1. decode under the grammar built from the tool schemas: full (a call is forced) when
   tool_choice is "required" and no call was made yet; lazy (free text, or a call that the
   grammar shapes once its opener appears) otherwise; none when tools are off;
2. stream the text as `Thought`s, holding back what may be a call (`ToolStreamFilter`);
3. no call: the text is the `Answer`, and the run ends;
4. calls: validate and run them, all at once (`execute.run_calls`), append the assistant's
   calls and one tool message per result, and go to 1.

"required" forces only the first step's call, so after a tool result the model may always
answer. After `max_steps` rounds of calls, or a call repeated word for word (told to the
model, not run again), the next step is decoded with the tools off: it must answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from danlu.agent.events import (
    AgentResult,
    Answer,
    AnswerReason,
    Call,
    Error,
    Event,
    Thought,
)
from danlu.agent.execute import MAX_OBSERVATION, run_calls
from danlu.agent.tools import Tool
from danlu.agent.trace import Trace, default_trace_path
from danlu.chat.messages import Message, as_messages
from danlu.chat.tools import ToolChoice, ToolStreamFilter, prepare_tools
from danlu.chat.tools.formats import ToolFormat, get_format
from danlu.chat.tools.prepare import Prepared, default_format
from danlu.config import Settings
from danlu.errors import DanluError, InvalidParameter
from danlu.model import Model

Choice = Literal["auto", "required", "none"]
CHOICES = ("auto", "required", "none")

# What the model is told when the tools are taken away (a user turn after the results).
NUDGES = {
    "max_steps": "No more tool calls: the step limit is reached. "
    "Answer the question now, from the tool results above.",
    "repeat": "No more tool calls: that call was made already. "
    "Answer the question now, from the tool results above.",
}


class CallCutOff(DanluError):
    """A step ran out of tokens in the middle of a tool call: the call cannot be run."""

    status = 500
    code = "tool_call_cut_off"


@dataclass(frozen=True)
class AgentSettings:
    """How a run goes; every field has the default the CLI and `danlu.agent()` show."""

    tool_choice: Choice = "auto"  # "required": the first step must call a tool
    max_steps: int = 5  # rounds of tool calls; after the last, the model answers without tools
    max_tokens: int = 256  # per model turn
    system: str | None = None  # a system prompt before the tools' instructions
    tool_format: str | None = None  # hermes or json; None: what suits the model's template
    observation_chars: int = MAX_OBSERVATION  # a tool's text the model is shown, at most
    trace: Path | None = None  # the JSONL trace; None: a new file under Settings.agents_dir
    sampling: dict[str, Any] = field(default_factory=dict)  # temperature, seed, ...

    def __post_init__(self) -> None:
        if self.tool_choice not in CHOICES:
            raise InvalidParameter(
                f"unknown tool choice '{self.tool_choice}'", hint="use auto, required or none"
            )
        if self.max_steps < 1:
            raise InvalidParameter("max_steps must be at least 1")


class Agent:
    """A model with tools. `stream(task)` runs it, yielding events; `run(task)` collects them."""

    def __init__(
        self,
        model: Model,
        tools: Sequence[Tool] = (),
        settings: AgentSettings | None = None,
        *,
        danlu_settings: Settings | None = None,
    ) -> None:
        self.model = model
        self.tools = {t.name: t for t in tools}
        if len(self.tools) != len(tools):
            names = [t.name for t in tools]
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise InvalidParameter(f"tool names must be unique; repeated: {', '.join(repeated)}")
        self.settings = settings or AgentSettings()
        if self.settings.tool_choice == "required" and not tools:
            raise InvalidParameter("tool choice 'required' needs at least one tool")
        self.danlu_settings = danlu_settings or Settings()

    def stream(self, task: str | Sequence[Message | dict[str, Any]]) -> Iterator[Event]:
        """Run the task (a user message, or a whole conversation), yielding events."""
        yield from self.start(task)

    def start(self, task: str | Sequence[Message | dict[str, Any]]) -> AgentRun:
        """A run of the task, not yet begun: iterate it for the events; its `messages`
        and `trace_path` are there to read afterwards."""
        return AgentRun(self, _start(task, self.settings.system))

    def run(self, task: str | Sequence[Message | dict[str, Any]]) -> AgentResult:
        """The whole run: answer, events, final messages and trace path."""
        return self.start(task).result()


def _start(task: str | Sequence[Message | dict[str, Any]], system: str | None) -> list[Message]:
    messages = (
        [Message(role="user", content=task)] if isinstance(task, str) else as_messages(list(task))
    )
    if system and not (messages and messages[0].role == "system"):
        messages.insert(0, Message(role="system", content=system))
    return messages


class AgentRun:
    """One run's state: the conversation so far, the calls seen, the trace."""

    def __init__(self, agent: Agent, messages: list[Message]) -> None:
        self.agent, self.messages = agent, messages
        self.settings = agent.settings
        self.specs = [t.spec for t in agent.tools.values()]
        self.rounds = 0  # steps that made calls
        self.seen: dict[str, int] = {}  # a call's name and arguments → the step it was made
        self.forced: AnswerReason | None = None  # why the next step has no tools
        self.trace_path = self.settings.trace or default_trace_path(agent.danlu_settings)
        self.trace = Trace(self.trace_path)  # the file is made by the first line

    def __iter__(self) -> Iterator[Event]:
        self.trace.write(
            {
                "type": "start",
                "model": self.agent.model.name,
                "tools": [s.as_dict() for s in self.specs],
                "settings": _settings_record(self.settings),
                "messages": _dicts(self.messages),
            }
        )
        try:
            yield from self._events()
        finally:
            self.close()

    def result(self) -> AgentResult:
        """Run to the end and collect: the answer, every event, the messages, the trace."""
        return self.collected(list(self))

    def collected(self, events: list[Event]) -> AgentResult:
        """The result of a run whose `events` were taken as it went (the server streams
        them from a worker thread)."""
        answers = [e for e in events if isinstance(e, Answer)]
        answer = answers[-1].text if answers else None
        return AgentResult(answer, events, _dicts(self.messages), str(self.trace_path))

    def _events(self) -> Iterator[Event]:
        step = 0
        while True:
            step += 1
            try:
                calls = yield from self._step(step)
            except DanluError as exc:
                yield self._log(Error(step, exc.one_line()))
                return
            if calls is None:
                return
            yield from self._run_calls(step, calls)

    def _step(self, step: int):
        """One model turn; yields its events, returns its calls (None once it answered)."""
        choice = self._choice()
        prepared = prepare_tools(
            self.agent.model.template, self.messages, self.specs, choice, self.settings.tool_format
        )
        started = time.monotonic()
        text, calls, finish = yield from self._decode(step, prepared)
        self._log_step(step, prepared, started, finish, text)
        if not calls and _cut_call(prepared, choice, finish, text):
            raise CallCutOff(
                f"the model's tool call was cut off at max_tokens ({self.settings.max_tokens})",
                hint="allow more tokens per step (--n-predict)",
            )
        if not calls:
            self.messages.append(Message(role="assistant", content=text))
            reason = self.forced or ("length" if finish.finish_reason == "length" else "answer")
            yield self._log(Answer(step, text, reason))
            return None
        self.rounds += 1
        openai_calls = tuple(c.as_openai() for c in calls)
        self.messages.append(Message(role="assistant", content=text, tool_calls=openai_calls))
        return [Call(step, c.id, c.name, c.arguments_dict()) for c in calls]

    def _choice(self) -> ToolChoice:
        if self.forced or self.settings.tool_choice == "none" or not self.specs:
            return ToolChoice("none")
        if self.settings.tool_choice == "required" and self.rounds == 0:
            return ToolChoice("required")
        return ToolChoice("auto")

    def _decode(self, step: int, prepared: Prepared):
        """Stream one turn: Thought events out, then (content, calls, last chunk)."""
        model = self.agent.model
        params = {**self.settings.sampling, "max_tokens": self.settings.max_tokens}
        prompt = model.prepare_chat(
            prepared.messages,
            tools=prepared.template_tools,
            trim=False,
            **{**params, **prepared.sampling(None)},
        )
        # with the tools taken away a small model may still write a call: held back too
        fmt = prepared.format or (self._format() if self.specs else None)
        held = ToolStreamFilter(fmt) if fmt else None
        shown: list[str] = []
        last = None
        for chunk in model.stream(prompt):
            last = chunk
            piece = held.feed(chunk.text) if held else chunk.text
            if piece:
                shown.append(piece)
                yield self._log(Thought(step, piece))
        parsed = held.finish() if held else None
        if parsed is not None and parsed.content:
            shown.append(parsed.content)
            yield self._log(Thought(step, parsed.content))
        calls = parsed.calls if parsed is not None and prepared.format else []
        if parsed is not None and not calls:
            shown = [*shown[:-1], parsed.content] if parsed.content else shown
        content = "".join(shown).strip()
        return content, calls, last

    def _run_calls(self, step: int, calls: list[Call]) -> Iterator[Event]:
        for call in calls:
            yield self._log(call)
        results = run_calls(
            calls, self.agent.tools, refuse=self._refuse, limit=self.settings.observation_chars
        )
        for result in results:
            self.messages.append(
                Message(role="tool", content=result.text, tool_call_id=result.id, name=result.name)
            )
            yield self._log(result)
        if any(r.kind == "repeat" for r in results):
            self.forced = "repeat"
        elif self.rounds >= self.settings.max_steps:
            self.forced = "max_steps"
        if self.forced:
            self.messages.append(Message(role="user", content=NUDGES[self.forced]))

    def _format(self) -> ToolFormat:
        template = self.agent.model.template
        return get_format(self.settings.tool_format or default_format(template))

    def _refuse(self, call: Call) -> str | None:
        """A call made before with the same arguments is not run again; the model is told."""
        key = json.dumps([call.name, call.arguments], sort_keys=True, ensure_ascii=False)
        if key in self.seen:
            return (
                f"error: {call.name} was already called with these arguments at step "
                f"{self.seen[key]}; its result is above. Answer from it."
            )
        self.seen[key] = call.step
        return None

    def _log(self, event: Event) -> Event:
        if not isinstance(event, Thought):  # thoughts go in whole, with the step line
            self.trace.event(event)
        return event

    def _log_step(self, step: int, prepared: Prepared, started: float, last, text: str) -> None:
        grammar = "none"
        if prepared.grammar:
            grammar = "lazy" if prepared.grammar_trigger else "full"
        usage = last.usage if last is not None else None
        self.trace.write(
            {
                "type": "step",
                "step": step,
                "grammar": grammar,
                "seconds": round(time.monotonic() - started, 3),
                "finish_reason": last.finish_reason if last is not None else None,
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
                "text": text,  # the step's thought text, whole
            }
        )

    def close(self) -> None:
        tools = [s.as_dict() for s in self.specs]
        self.trace.write(
            {
                "type": "end",
                "messages": _dicts(self.messages),
                "tools": tools,
                "tool_format": self._format().name,  # how the calls were written
            }
        )
        self.trace.close()


def _cut_call(prepared: Prepared, choice: ToolChoice, last, text: str) -> bool:
    """True when the step ran out of tokens inside a call (forced, or its opener written)."""
    if prepared.format is None or last is None or last.finish_reason != "length":
        return False
    return choice.forced or bool(prepared.format.opener and prepared.format.opener in text)


def _dicts(messages: list[Message]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json", exclude_none=True) for m in messages]


def _settings_record(settings: AgentSettings) -> dict[str, Any]:
    record = {k: v for k, v in vars(settings).items() if k != "trace"}
    return json.loads(json.dumps(record, default=str))

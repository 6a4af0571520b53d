"""What an agent run streams: thought text, calls, results, the answer, an error.

`Agent.stream()` yields these as they happen; the CLI prints them, the Python API collects
them, and every one is also a line of the run's JSONL trace (`to_dict()`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

# Why a run ended with an answer: the model answered; the step limit or a repeated call
# took the tools away, so the next step had to answer.
AnswerReason = Literal["answer", "max_steps", "repeat", "length"]
ResultKind = Literal["ok", "invalid", "error", "timeout", "repeat", "unknown"]


@dataclass(frozen=True)
class Event:
    """The base of every event; `type` names it in the trace."""

    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class Thought(Event):
    """Text the model streamed in a step (before or instead of a call): a piece of it."""

    type: ClassVar[str] = "thought"
    step: int
    text: str


@dataclass(frozen=True)
class Call(Event):
    """A tool call the model made, as parsed from its output."""

    type: ClassVar[str] = "call"
    step: int
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Result(Event):
    """What a call gave back: the observation the model reads next.

    `kind` is "ok", or why it is not: arguments that failed the schema ("invalid"), an
    exception ("error"), the tool's timeout ("timeout"), a call repeated word for word
    ("repeat", not run again), a name no tool has ("unknown").
    """

    type: ClassVar[str] = "result"
    step: int
    id: str
    name: str
    text: str
    kind: ResultKind = "ok"
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


@dataclass(frozen=True)
class Answer(Event):
    """The final answer, which ends the run."""

    type: ClassVar[str] = "answer"
    step: int
    text: str
    reason: AnswerReason = "answer"


@dataclass(frozen=True)
class Error(Event):
    """A failure of the run itself (the model could not go on: the context is full, ...);
    the run ends after it. A tool's failure is a `Result`, never an Error."""

    type: ClassVar[str] = "error"
    step: int
    message: str


@dataclass
class AgentResult:
    """A whole run, collected: the answer (None after an Error), every event, the trace."""

    answer: str | None
    events: list[Event] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    trace: str | None = None  # the JSONL trace's path

    @property
    def calls(self) -> list[Call]:
        return [e for e in self.events if isinstance(e, Call)]

    @property
    def results(self) -> list[Result]:
        return [e for e in self.events if isinstance(e, Result)]

    @property
    def error(self) -> str | None:
        errors = [e.message for e in self.events if isinstance(e, Error)]
        return errors[-1] if errors else None

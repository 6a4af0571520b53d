"""The JSONL trace every agent run writes: what it was asked, each event, how long, the end.

One JSON object a line, each with `type` and `t` (seconds since the run began):
`start` (model, tools, settings, the messages it began from), one line per event
(`thought`, `call`, `result`, `answer`, `error`), a `step` line per model turn (its tokens
and seconds), and `end`: the whole conversation in OpenAI's message shape, tool calls and
tool messages included, with the tools offered, so a good run can be training data.
Lines are flushed as they are written: a run that is killed leaves its trace so far.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from danlu.agent.events import Event
from danlu.config import Settings


def default_trace_path(settings: Settings) -> Path:
    """A new file under `Settings.agents_dir`: `YYYYmmdd-HHMMSS-<6 hex>.jsonl`."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return settings.agents_dir / f"{stamp}-{secrets.token_hex(3)}.jsonl"


class Trace:
    """A trace file: `write` adds a line (the first makes the file), `close` ends it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._began = 0.0
        self._closed = False

    @property
    def elapsed(self) -> float:
        return round(time.monotonic() - self._began, 3)

    def write(self, record: dict[str, Any]) -> None:
        """Add a line; the first one makes the file (and its folder), and starts the clock."""
        if self._closed:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8")
            self._began = time.monotonic()
        line = json.dumps({**record, "t": self.elapsed}, ensure_ascii=False, default=str)
        self._file.write(line + "\n")
        self._file.flush()

    def event(self, event: Event) -> None:
        self.write(event.to_dict())

    def close(self) -> None:
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None


def read_trace(path: Path) -> list[dict[str, Any]]:
    """The trace's records, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]

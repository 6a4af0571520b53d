"""Background jobs for the page: long work runs here, never inside a browser request.

A job is either a function run on a thread (it reports `progress(label, done, total)` and is
cancelled at its next report) or a `danlu ...` CLI process (cancelled with SIGINT, as
Ctrl-C would: training records an interrupted run, evaluation keeps its samples). The
`Jobs` registry lives as long as the server, so a reloaded page lists the same jobs; with
a `JobStore` the ended ones are kept on disk and listed again by the next server.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from danlu.ui.feedback import message

if TYPE_CHECKING:
    from danlu.ui.job_store import JobStore

State = Literal["running", "done", "failed", "cancelled"]
LOG_LINES = 200  # lines of output kept per job for the page
# The danlu command, in this Python. Stop is SIGINT, so the child takes it as Ctrl-C even
# when the page was started where SIGINT is ignored (`danlu ui &`, nohup), which the child
# would otherwise inherit.
CLI = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from danlu.cli.main import main; main()"
)
STOP_GRACE = 30.0  # seconds a process gets after SIGINT before it is terminated


class Cancelled(Exception):
    """Raised inside a thread job at its next progress report once cancel was asked."""


@dataclass
class PageJob:
    """What the page shows about one piece of background work."""

    id: str
    kind: str
    title: str
    state: State = "running"
    done: int = 0
    total: int = 0
    message: str = ""
    result: Any = None
    log: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    ended: float | None = None
    cancel_asked: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)  # runs or follows it

    @property
    def running(self) -> bool:
        return self.state == "running"

    def progress(self, label: str, done: int, total: int | None) -> None:
        """The `Progress` callback a thread job reports to (danlu/progress.py); it raises
        Cancelled once cancel was asked."""
        if self.cancel_asked:
            raise Cancelled
        self.done, self.total = done, total or 0

    def say(self, line: str) -> None:
        self.log.append(line)
        del self.log[:-LOG_LINES]

    @property
    def percent(self) -> str:
        return f"{100 * self.done / self.total:.0f}%" if self.total else ""

    def row(self) -> list[str]:
        """One line of the jobs table."""
        elapsed = (self.ended or time.time()) - self.started
        return [
            self.id,
            self.kind,
            self.title,
            self.state,
            self.percent,
            f"{elapsed:.0f} s",
            self.message,
        ]


class Jobs:
    """Every job of this server (and the ended ones `store` kept), newest first in `list()`."""

    def __init__(self, store: JobStore | None = None) -> None:
        self.store = store
        kept = store.load() if store is not None else []
        self._jobs: dict[str, PageJob] = {job.id: job for job in kept}
        self._ids = itertools.count(1 + max(map(_number, self._jobs), default=0))
        self._lock = threading.Lock()
        # how many jobs have ended: a tab showing what jobs make (the store's models)
        # reads it again when this moves
        self.settled = 0

    def _new(self, kind: str, title: str) -> PageJob:
        with self._lock:
            job = PageJob(f"{kind}-{next(self._ids)}", kind, title)
            self._jobs[job.id] = job
        return job

    def list(self) -> list[PageJob]:
        return sorted(self._jobs.values(), key=lambda j: j.started, reverse=True)

    def get(self, job_id: str) -> PageJob | None:
        return self._jobs.get(job_id)

    def latest(self, kind: str) -> PageJob | None:
        return next((j for j in self.list() if j.kind == kind), None)

    def start(self, kind: str, title: str, work: Callable[[PageJob], Any]) -> PageJob:
        """Run `work(job)` on a thread; its return value becomes `job.result`."""
        job = self._new(kind, title)

        def target() -> None:
            try:
                job.result = work(job)
                job.state, job.message = "done", job.message or "done"
            except Cancelled:
                job.state, job.message = "cancelled", "cancelled"
            except Exception as exc:  # the page shows the reason; the server keeps running
                job.state, job.message = "failed", message(exc)
            self._settle(job)

        job.thread = threading.Thread(target=target, name=f"danlu-ui-{job.id}", daemon=True)
        job.thread.start()
        return job

    def spawn(
        self,
        kind: str,
        title: str,
        args: list[str],
        on_exit: Callable[[PageJob], None] | None = None,
    ) -> PageJob:
        """Run `danlu ARGS` as a process; its output lines become the job's log."""
        job = self._new(kind, title)
        command = [sys.executable, "-c", CLI, *args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        job.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        job.say("$ danlu " + " ".join(args))
        job.thread = threading.Thread(
            target=self._follow, args=(job, on_exit), name=f"danlu-ui-{job.id}", daemon=True
        )
        job.thread.start()
        return job

    def _follow(self, job: PageJob, on_exit: Callable[[PageJob], None] | None) -> None:
        """Collect stdout as the result and both streams as the log, then settle the state."""
        assert job.process is not None and job.process.stdout and job.process.stderr
        errors = threading.Thread(target=_lines, args=(job.process.stderr, job.say), daemon=True)
        errors.start()
        output: list[str] = []
        _lines(job.process.stdout, lambda line: (output.append(line), job.say(line)))
        code = job.process.wait()
        errors.join()
        job.result = "\n".join(output)
        if job.cancel_asked:
            job.state, job.message = "cancelled", "cancelled"
        elif code == 0:
            job.state, job.message = "done", "done"
        else:
            failures = [line for line in job.log if line.startswith("error:")]
            job.state = "failed"
            job.message = failures[-1] if failures else f"exited with status {code}"
        if on_exit is not None:
            try:
                on_exit(job)
            except Exception as exc:
                job.state, job.message = "failed", message(exc)
        self._settle(job)

    def _settle(self, job: PageJob) -> None:
        job.ended = time.time()
        if self.store is not None:
            self.store.save(job)
        with self._lock:
            self.settled += 1

    def cancel(self, job_id: str) -> PageJob | None:
        """Ask a job to stop: a thread job at its next report, a process with SIGINT."""
        job = self._jobs.get(job_id)
        if job is None or not job.running:
            return job
        job.cancel_asked = True
        job.message = "stopping…"
        if job.process is not None and job.process.poll() is None:
            job.process.send_signal(signal.SIGINT)
            timer = threading.Timer(STOP_GRACE, _terminate, args=(job.process,))
            timer.daemon = True  # a server on its way out does not wait for it
            timer.start()
        return job

    def close(self, grace: float = STOP_GRACE) -> None:
        """Cancel every running job and wait until each has ended (the server is going
        away): a thread job stops at its next report, a process as at Ctrl-C, and one still
        running after `grace` seconds is killed."""
        running = [job for job in self.list() if job.running]
        for job in running:
            self.cancel(job.id)
        deadline = time.monotonic() + grace
        for job in running:
            if job.process is not None:
                try:
                    job.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    job.process.kill()
            if job.thread is not None:
                job.thread.join(timeout=max(0.0, deadline - time.monotonic()))


def _number(job_id: str) -> int:
    """N of a job id KIND-N (0 for an id of another shape)."""
    tail = job_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _lines(stream: Any, take: Callable[[str], Any]) -> None:
    for line in stream:
        take(line.rstrip("\n"))


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()

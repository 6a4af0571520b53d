"""Typed errors of training; the CLI prints each on one line, before any work starts."""

from __future__ import annotations

from danlu.errors import DanluError, InvalidRequest


class DataError(InvalidRequest):
    """A training data file cannot be used: unreadable, unknown format, or bad rows.

    `problems` lists one "line N: what is wrong" per bad row (the first few).
    """

    code = "invalid_training_data"

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint)
        self.problems = problems or []


class DoesNotFit(DanluError):
    """The run needs more memory than this machine has; nothing was loaded."""

    status = 507
    code = "insufficient_memory"


class HardwareMissing(InvalidRequest):
    """The settings ask for hardware or a library this machine lacks (QLoRA without CUDA)."""

    code = "hardware_missing"


class RunNotFound(DanluError):
    """No training run of that id under DANLU_HOME/runs."""

    status = 404
    code = "run_not_found"


class RunExists(DanluError):
    """A run of that id exists already (resume it, or pick another id)."""

    status = 409
    code = "run_exists"

"""Evaluation tasks by name: one module per kind, each task a small object.

A task reads its data (`load`) and scores one item (`score`), returning the per-sample
record the runner logs; the runner does the rest (caching, progress, statistics).
"""

from __future__ import annotations

from danlu.errors import InvalidRequest
from danlu.evaluate.tasks.base import Task
from danlu.evaluate.tasks.bfcl import BfclTask
from danlu.evaluate.tasks.choice import CsvChoiceTask, JsonlChoiceTask
from danlu.evaluate.tasks.generative import QATask
from danlu.evaluate.tasks.perplexity import PerplexityTask

TASKS: dict[str, type[Task]] = {
    "mmlu": CsvChoiceTask,
    "ceval": CsvChoiceTask,
    "cmmlu": CsvChoiceTask,
    "mc": JsonlChoiceTask,
    "qa": QATask,
    "perplexity": PerplexityTask,
    "bfcl": BfclTask,
}


def task_named(name: str) -> type[Task]:
    try:
        return TASKS[name]
    except KeyError:
        raise InvalidRequest(
            f"no evaluation task named '{name}'", hint=f"tasks: {', '.join(sorted(TASKS))}"
        ) from None


__all__ = ["TASKS", "Task", "task_named"]

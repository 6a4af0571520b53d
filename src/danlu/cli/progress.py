"""The CLI's one progress bar: draws the library's `Progress` events (danlu/progress.py) on
stderr, only on a terminal, with a rate and an ETA.

The label of each event is the bar's description, so a step's name ("merge", "quantize")
or its latest figures ("training · loss 0.412 · lr 1.0e-03") show beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich import progress as rich
from rich.console import Console
from rich.text import Text

from danlu.progress import Progress


class RateColumn(rich.ProgressColumn):
    """Items per second (rich's own speed column counts bytes)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: rich.Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} {self.unit}/s" if speed else f"– {self.unit}/s")


def _columns(unit: str) -> tuple[str | rich.ProgressColumn, ...]:
    if unit == "bytes":
        counted: tuple[rich.ProgressColumn, ...] = (
            rich.DownloadColumn(),
            rich.TransferSpeedColumn(),
        )
    else:
        counted = (rich.MofNCompleteColumn(), RateColumn(unit))
    return (
        "[progress.description]{task.description}",
        rich.BarColumn(),
        *counted,
        "eta",
        rich.TimeRemainingColumn(),
    )


@contextmanager
def bar(
    unit: str = "items",
    label: str = "",
    *,
    transient: bool = False,
    console: Console | None = None,
) -> Iterator[Progress]:
    """Yields a `Progress` callback that draws each event; `unit` is "bytes" (sizes and a
    transfer speed) or what the counts count ("items", "steps"). Nothing is drawn when
    stderr is not a terminal (a page job, a pipe)."""
    console = console or Console(stderr=True)
    with rich.Progress(
        *_columns(unit), console=console, transient=transient, disable=not console.is_terminal
    ) as shown:
        task = shown.add_task(label, total=None)

        def update(label: str, done: int, total: int | None) -> None:
            shown.update(task, description=label, completed=done, total=total)

        yield update

"""Measurements in a fresh child process, so that one whose kernels crash dies alone.

llama.cpp's repacked weights crash on some CPUs (AMX, llama.cpp #20824) with a signal that
no Python code can catch. `isolated` runs a measurement in a spawned interpreter and hands
back its rows, or why it gave none ('died by SIGILL'); `bench_model` uses it for the
settings this machine's rule keeps off, `--save-default` for every candidate.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

from danlu.config import Settings
from danlu.errors import DanluError
from danlu.progress import Progress

if TYPE_CHECKING:
    from danlu.bench.speed import SpeedRow, SpeedSettings

# one measurement, in the child: (model name, its settings, danlu settings, progress) -> rows
Measure = Callable[[str, "SpeedSettings", Settings, Progress], "list[SpeedRow]"]


def _child(
    conn, run: Measure, name: str, settings: SpeedSettings, danlu_settings: Settings
) -> None:
    try:
        rows = run(
            name, settings, danlu_settings, lambda label, done, total: conn.send(("progress", done))
        )
        conn.send(("rows", rows))
    except DanluError as exc:
        conn.send(("error", str(exc)))
    finally:
        conn.close()


def isolated(
    run: Measure,
    name: str,
    settings: SpeedSettings,
    danlu_settings: Settings,
    progress: Callable[[int], None],
) -> list[SpeedRow] | str:
    """`run` in a fresh child process: its rows, or why it gave none ('died by SIGSEGV')."""
    spawn = multiprocessing.get_context("spawn")
    receive, send = spawn.Pipe(duplex=False)
    child = spawn.Process(
        target=_child, args=(send, run, name, settings, danlu_settings), daemon=True
    )
    child.start()
    send.close()  # the child holds the only writer: its end of the pipe ends with it
    result: list[SpeedRow] | str = "ended without a result"
    try:
        while True:
            try:
                kind, payload = receive.recv()
            except EOFError:
                break
            if kind == "progress":
                progress(payload)
            else:
                result = payload if kind == "rows" else f"failed: {payload}"
        child.join()
    finally:
        if child.is_alive():  # the parent was interrupted
            child.terminate()
            child.join()
    if child.exitcode is not None and child.exitcode < 0:
        return f"died by {signal.Signals(-child.exitcode).name}"
    return result

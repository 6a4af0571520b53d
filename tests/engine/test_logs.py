"""llama.cpp's one log callback, routed per load (engine/llamacpp/logs.py): each load reads
back its own lines, and a quiet load does not silence a verbose model."""

from __future__ import annotations

import threading

import llama_cpp
import pytest

from danlu.engine.base import LoadOptions
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.engine.llamacpp.logs import LogRouter
from tests.conftest import smollm2_path


def _log_from_thread(router: LogRouter, lines: list[str], say: str, go: threading.Barrier):
    with router.tap(lines, verbose=False):
        go.wait()  # both taps open before either thread logs
        router.route(1, f"{say} part")
        router.route(5, " two\n")  # a continuation of the line before
        go.wait()


def test_each_thread_reads_its_own_lines():
    router, go = LogRouter(), threading.Barrier(2)
    first: list[str] = []
    second: list[str] = []
    threads = [
        threading.Thread(target=_log_from_thread, args=(router, lines, say, go))
        for lines, say in ((first, "first"), (second, "second"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (first, second) == (["I: first part two"], ["I: second part two"])


def test_a_helper_thread_of_the_one_load_under_way_reaches_its_tap():
    router, lines = LogRouter(), []
    with router.tap(lines, verbose=False):
        helper = threading.Thread(target=router.route, args=(2, "from a helper\n"))
        helper.start()
        helper.join()
    assert lines == ["W: from a helper"]


def test_stray_lines_reach_stderr_only_while_a_verbose_engine_holds_them(capsys):
    router = LogRouter()
    router.route(1, "dropped\n")
    release = router.hold_verbose()
    router.route(1, "shown\n")
    release()
    release()  # a second close changes nothing
    router.route(1, "dropped again\n")
    assert capsys.readouterr().err == "shown\n"


def _engine(verbose: bool, **knobs: str) -> LlamaCppEngine:
    options = LoadOptions.build(n_ctx=256, threads=1, extra={"verbose": verbose}, **knobs)
    return LlamaCppEngine(smollm2_path(), options)


def _perf_line(engine: LlamaCppEngine) -> None:
    """A real llama.cpp log line written after the load: its timings of the context."""
    llama_cpp.llama_perf_context_print(engine._ctx.ctx)


def test_a_quiet_load_does_not_silence_a_verbose_model(capfd):
    loud = _engine(verbose=True)
    quiet = _engine(verbose=False)
    capfd.readouterr()
    try:
        _perf_line(quiet)
        assert "llama_perf_context_print" in capfd.readouterr().err
    finally:
        loud.close()
    _perf_line(quiet)
    quiet.close()
    assert "llama_perf_context_print" not in capfd.readouterr().err


@pytest.mark.parametrize("round_", range(2))
def test_two_loads_at_once_read_back_their_own_settings(round_):
    asked = {"f16": {"cache_type_k": "f16"}, "q8_0": {"cache_type_k": "q8_0"}}
    engines: dict[str, LlamaCppEngine] = {}
    go = threading.Barrier(len(asked))

    def load(kind: str) -> None:
        go.wait()
        engines[kind] = _engine(verbose=False, flash_attn="on", **asked[kind])

    threads = [threading.Thread(target=load, args=(kind,)) for kind in asked]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        for kind, engine in engines.items():
            assert engine.facts["cache_type_k"] == kind, engine.facts
            assert engine.facts["weight_buffers"] != "?", engine.facts
    finally:
        for engine in engines.values():
            engine.close()


def test_opening_a_context_leaves_the_process_streams_to_other_threads(capfd):
    """A load on one thread must not swallow what another thread writes meanwhile (a
    server's request log while the pool loads a model): llama.cpp's notes go through the
    log callback, so no file descriptor is redirected."""
    import os

    from danlu.engine.llamacpp import native

    model = native.load_model(smollm2_path(), LoadOptions())
    stop, written = threading.Event(), []

    def write() -> None:
        while not stop.is_set() or len(written) < 50:
            os.write(2, f"line {len(written)}\n".encode())
            written.append(len(written))

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(5):
            native.new_context(model, LoadOptions(), n_ctx=256).close()
    finally:
        stop.set()
        writer.join()
        model.close()
    err = capfd.readouterr().err
    assert [int(line.split()[1]) for line in err.splitlines() if line.startswith("line ")] == (
        written
    )

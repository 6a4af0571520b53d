"""llama.cpp's log: one callback for the whole process, routed to the load that wrote each line.

llama.cpp keeps a single log callback per process. danlu sets it once, on first use, to
the one `LogRouter`, and never again:
1. a load, a context set-up or a quantization opens a tap on its own thread; the lines
   that thread logs go to the tap's list (read back as the engine's facts) and, when that
   load is verbose, to stderr as well;
2. a line from a thread with no tap goes to the tap open elsewhere, if exactly one is
   (a helper thread of that one load);
3. any other line (llama.cpp's notes while decoding) goes to stderr while an engine that
   was loaded verbose is open, and nowhere otherwise.
So a quiet load does not silence a verbose model, and two loads at once read back their own
settings, not each other's.
"""

from __future__ import annotations

import ctypes
import functools
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import llama_cpp

_TAGS = {2: "W", 3: "E"}  # ggml's log levels; 1 is info, 5 continues the line before
_CONTINUED = 5


class Tap:
    """The lines of one load, whole and tagged ('I: ...', 'W: ...', 'E: ...')."""

    def __init__(self, lines: list[str], verbose: bool) -> None:
        self.lines = lines
        self.verbose = verbose
        self._partial = ""

    def take(self, level: int, text: str) -> None:
        if self.verbose:
            sys.stderr.write(text)
        if level == _CONTINUED:
            self._partial += text
        else:
            self._partial = f"{_TAGS.get(level, 'I')}: {text}"
        if self._partial.endswith("\n"):
            self.lines.append(self._partial.rstrip("\n"))
            self._partial = ""


class LogRouter:
    """Where each llama.cpp log line goes: the tap of the thread that logged it (see above)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taps: dict[int, Tap] = {}  # thread id → the tap open on it
        self._verbose_engines = 0

    def route(self, level: int, text: str) -> None:
        with self._lock:
            tap = self._taps.get(threading.get_ident())
            if tap is None and len(self._taps) == 1:
                (tap,) = self._taps.values()
            loud = self._verbose_engines > 0
        if tap is not None:
            tap.take(level, text)
        elif loud:
            sys.stderr.write(text)

    @contextmanager
    def tap(self, lines: list[str], verbose: bool) -> Iterator[None]:
        """While open, what this thread logs goes to `lines` (and stderr when verbose)."""
        me, tap = threading.get_ident(), Tap(lines, verbose)
        with self._lock:
            outer = self._taps.get(me)
            self._taps[me] = tap
        try:
            yield
        finally:
            with self._lock:
                if outer is None:
                    del self._taps[me]
                else:
                    self._taps[me] = outer

    def hold_verbose(self) -> Callable[[], None]:
        """Lines outside any tap go to stderr until the returned release is called (a
        verbose engine holds this from its load to its close; a second release is a no-op)."""
        with self._lock:
            self._verbose_engines += 1
        held = True

        def release() -> None:
            nonlocal held
            with self._lock:
                if held:
                    held = False
                    self._verbose_engines -= 1

        return release


_INSTALLING = threading.Lock()  # two first loads at once still set one callback


@functools.cache
def _installed() -> tuple[LogRouter, object]:
    router = LogRouter()

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        router.route(level, text.decode("utf-8", "replace"))

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    return router, callback  # the callback is kept alive: llama.cpp holds a raw pointer


def log_router() -> LogRouter:
    """The process's router, made llama.cpp's log callback the first time it is asked for."""
    with _INSTALLING:
        return _installed()[0]


def quiet_log() -> AbstractContextManager[None]:
    """llama.cpp's lines on this thread dropped while open (the quantizer logs every tensor)."""
    return log_router().tap([], verbose=False)

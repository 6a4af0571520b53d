"""Incremental detokenization with stop-sequence hold-back.

Tokens arrive one at a time as raw bytes (a UTF-8 character may span tokens, and
is held back until complete; one left incomplete at the end is dropped); text that
could still turn into a stop sequence is held back until it can't.
Backend-agnostic, so the single-stream engine and the batch scheduler share it.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable


class TextStream:
    """Feeds token bytes in, gets safe-to-show text out, and spots stop sequences."""

    def __init__(self, piece: Callable[[int], bytes], stop: tuple[str, ...] = ()) -> None:
        self._piece = piece
        self._stop = stop
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self.stopped = False

    def push(self, token: int) -> str:
        """Add one token; return the text that is now certain to be output."""
        if self.stopped:
            return ""
        self._pending += self._decoder.decode(self._piece(token))
        cut = self._first_stop()
        if cut is not None:
            self.stopped = True
            text, self._pending = self._pending[:cut], ""
            return text
        keep = self._held_back_length()
        text = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(self._pending) - keep :]
        return text

    def flush(self) -> str:
        """The rest of the text once generation has ended without a stop sequence.

        The bytes of a character the last token left unfinished are dropped, not decoded:
        a cut (max_tokens) must not end the text with a replacement character.
        """
        if self.stopped:
            return ""
        text, self._pending = self._pending, ""
        self._decoder.reset()
        return text

    def _first_stop(self) -> int | None:
        hits = [i for i in (self._pending.find(s) for s in self._stop) if i >= 0]
        return min(hits) if hits else None

    def _held_back_length(self) -> int:
        # Longest tail of the pending text that is the start of some stop sequence.
        best = 0
        for stop in self._stop:
            for n in range(min(len(stop) - 1, len(self._pending)), best, -1):
                if self._pending.endswith(stop[:n]):
                    best = n
                    break
        return best

"""The prompt cache in host memory (llama-server's `--cache-ram`).

A slot holds the KV cache of its last prompt and answer. When the scheduler gives the
slot to a prompt that keeps less than half of that, the slot's sequence state is copied
here first; and when a later prompt shares more with a saved state than with any free
slot, the state is copied back into the slot instead of processing the prompt again.
So N slots serve more than N recurring prompts (system prompts, chats that come back)
without prefilling each anew. The rules follow llama-server's, so the two compare fairly:
- a state whose tokens are all the prefix of another's is dropped as obsolete;
- a saved state is only used when it keeps at least a quarter of its tokens, and beats
  the slot's own cache both in the share of the prompt it covers and of itself it keeps;
- the oldest states go first when the byte budget is full; a used state leaves the cache
  (the slot holds it now, and saves it again when it is reused).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from danlu.engine.promptcache import shared_prefix

MIB = 1024 * 1024
MIN_KEEP = 0.25  # a saved state must keep this share of its tokens to be worth restoring


@dataclass(frozen=True)
class SavedPrompt:
    """One saved sequence: the tokens its KV entries hold, and llama.cpp's state bytes."""

    tokens: tuple[int, ...]
    state: bytes


class RamCache:
    """Saved sequence states, oldest first, within `limit_mib` MiB of host memory."""

    def __init__(self, limit_mib: int) -> None:
        self.limit = limit_mib * MIB
        self._saved: deque[SavedPrompt] = deque()
        self.saves = 0
        self.hits = 0

    @property
    def size(self) -> int:
        return sum(len(s.state) for s in self._saved)

    def __len__(self) -> int:
        return len(self._saved)

    def save(self, tokens: Sequence[int], size: int, read: Callable[[], bytes]) -> bool:
        """Keep the state of `tokens` (`size` bytes, read only when it is kept)."""
        if not tokens or size > self.limit or self._holds(tokens):
            return False
        self._saved = deque(s for s in self._saved if not _covers(tokens, s.tokens))
        used = self.size
        while self._saved and used + size > self.limit:
            used -= len(self._saved.popleft().state)
        self._saved.append(SavedPrompt(tuple(tokens), read()))
        self.saves += 1
        return True

    def _holds(self, tokens: Sequence[int]) -> bool:
        return any(_covers(s.tokens, tokens) for s in self._saved)

    def take(self, prompt: Sequence[int], cached: Sequence[int]) -> SavedPrompt | None:
        """The saved state that serves `prompt` better than a slot holding `cached`, removed."""
        base = shared_prefix(cached, prompt)
        best_keep = base / len(cached) if cached else -1.0
        best_share, best = base, None
        for saved in self._saved:
            shared = shared_prefix(saved.tokens, prompt)
            keep = shared / len(saved.tokens)
            if keep >= MIN_KEEP and keep > best_keep and shared > best_share:
                best_keep, best_share, best = keep, shared, saved
        if best is not None:
            self._saved.remove(best)
            self.hits += 1
        return best

    def clear(self) -> None:
        self._saved.clear()


def _covers(longer: Sequence[int], tokens: Sequence[int]) -> bool:
    """Whether `tokens` is all a prefix of `longer`."""
    return len(tokens) <= len(longer) and shared_prefix(longer, tokens) == len(tokens)

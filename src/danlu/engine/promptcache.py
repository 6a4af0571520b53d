"""`--prompt-cache FILE`: the KV state after a prompt, kept so the next start skips it.

The file is a magic line, one JSON header line (the model's name and sha256, the KV
cache types, and the tokens the state holds), then the backend's sequence state.
A file made for another model or other cache types is refused (InvalidParameter).
A file whose tokens share less than half with the new prompt is stale: it is not
loaded (llama.cpp's own rule for a session file), and the run writes a fresh one.
Otherwise the shared prefix is reused and reported as cached tokens.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from danlu.atomic import write_bytes_atomic
from danlu.errors import InvalidParameter, NotSupported

MAGIC = b"DANLU-PROMPT-CACHE 1\n"


class StatefulEngine(Protocol):
    """An engine whose sequence state can be saved and restored (llama.cpp's)."""

    def save_state(self, keep: int) -> tuple[list[int], bytes]: ...

    def restore_state(self, tokens: Sequence[int], data: bytes) -> None: ...


@dataclass(frozen=True)
class Saved:
    tokens: list[int]
    state: bytes


@dataclass(frozen=True)
class PromptCache:
    """One prompt-cache file for one loaded model (`identity` says which, with what cache)."""

    path: Path
    identity: dict[str, str]

    def read(self) -> Saved | None:
        """The saved tokens and state; None when there is no file yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InvalidParameter(f"cannot read prompt cache '{self.path}': {exc}") from None
        header, state = self._parse(raw)
        self._check_identity(header)
        return Saved([int(t) for t in header["tokens"]], state)

    def _parse(self, raw: bytes) -> tuple[dict[str, Any], bytes]:
        line, _, state = raw.removeprefix(MAGIC).partition(b"\n")
        try:
            if not raw.startswith(MAGIC):
                raise ValueError("no prompt-cache header")
            header = json.loads(line)
            if not isinstance(header.get("tokens"), list) or not state:
                raise ValueError("no tokens or state")
        except ValueError:
            raise InvalidParameter(
                f"'{self.path}' is not a danlu prompt cache",
                hint="give another --prompt-cache path, or delete the file",
            ) from None
        return header, state

    def _check_identity(self, header: dict[str, Any]) -> None:
        saved = {key: header.get(key) for key in self.identity}
        if saved == self.identity:
            return
        differs = [k for k in self.identity if saved[k] != self.identity[k]]
        theirs = ", ".join(f"{k}={saved[k]}" for k in differs)
        ours = ", ".join(f"{k}={self.identity[k]}" for k in differs)
        raise InvalidParameter(
            f"prompt cache '{self.path}' was made with {theirs}, not {ours}",
            hint="delete it or give another --prompt-cache path for this model",
        )

    def write(self, tokens: Sequence[int], state: bytes) -> None:
        header = {**self.identity, "tokens": list(tokens)}
        data = MAGIC + json.dumps(header).encode("utf-8") + b"\n" + state
        write_bytes_atomic(self.path, data)


def shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PromptCacheRun:
    """Restore before the first prompt, save after its answer; says what it did."""

    def __init__(self, cache: PromptCache, engine: Any) -> None:
        if not hasattr(engine, "save_state"):
            raise NotSupported("this model's backend cannot save a prompt cache")
        self.cache = cache
        self.engine: StatefulEngine = engine
        self.pending = True  # the file is written once, after the first answer
        self.prompt_len = 0

    def before(self, prompt: Sequence[int]) -> str:
        """Load the file for `prompt` when it fits; the note tells the user what happened."""
        self.prompt_len = len(prompt)
        saved = self.cache.read()
        if saved is None:
            return f"prompt cache '{self.cache.path}' is new; it is written after this answer"
        shared = shared_prefix(saved.tokens, prompt)
        if shared * 2 < len(saved.tokens):
            return (
                f"prompt cache '{self.cache.path}' is stale ({shared} of its "
                f"{len(saved.tokens)} tokens match this prompt): not used, rewritten"
            )
        self.engine.restore_state(saved.tokens, saved.state)
        self.pending = shared < len(saved.tokens)  # a partial match is saved afresh
        return f"prompt cache '{self.cache.path}': {shared} prompt tokens restored"

    def after(self) -> None:
        if self.pending:
            tokens, state = self.engine.save_state(self.prompt_len)
            self.cache.write(tokens, state)
            self.pending = False

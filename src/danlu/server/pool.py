"""The models a server holds: loaded on demand, kept alive, unloaded least-recently-used first."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from danlu.config import Settings
from danlu.errors import InvalidParameter, ModelNotFound, Overloaded
from danlu.model import Model, find_model, load, looks_like_path
from danlu.server.settings import ServerSettings
from danlu.store import Catalog

# One decode step (a batch of prompt tokens, then a token per slot) takes well under a
# second on a small model and seconds on a large one on a slow CPU; a step this long is
# not slow but stuck, and /health says so.
STUCK_STEP_SECONDS = 120.0


@dataclass
class Loaded:
    """A model in memory, how long it may idle, and how many requests are using it."""

    key: str  # how the pool knows it: the store name, or a run folder's absolute path
    model: Model
    size: int
    keep_alive: float
    last_used: float = field(default_factory=time.monotonic)
    active: int = 0

    @property
    def expires_at(self) -> float | None:
        """Monotonic time after which an idle model is unloaded; None: never."""
        return None if self.keep_alive < 0 else self.last_used + self.keep_alive

    def decoding_problem(self) -> str | None:
        """Why this model's decoding thread cannot serve requests now; None when it can.

        Backends without a decoding thread of their own (no `liveness`) report none.
        """
        liveness = getattr(self.model.engine, "liveness", None)
        if liveness is None:
            return None
        now = liveness()
        if not now.running:
            return f"the decoding thread of '{self.model.name}' has stopped"
        if now.step_seconds > STUCK_STEP_SECONDS:
            return (
                f"the decoding thread of '{self.model.name}' has been in one step for "
                f"{now.step_seconds:.0f} s"
            )
        return None


class ModelPool:
    """Name → loaded model, with on-demand loading, keep_alive and LRU eviction."""

    def __init__(self, settings: Settings, server: ServerSettings) -> None:
        self.settings = settings
        self.server = server
        self.catalog = Catalog(settings)
        self._loaded: dict[str, Loaded] = {}
        self._lock = asyncio.Lock()
        self.loading = 0

    def resolve(self, name: str) -> str:
        """The store name for `name`; Ollama-style ':latest' tags are accepted. A training
        run given by path (`runs/RUN`) is known by its absolute folder."""
        if looks_like_path(name):  # a run folder; a missing one is a 404 naming the path
            _, folder = find_model(name, self.settings, self.catalog)
            assert folder is not None  # find_model gives a folder for every path it accepts
            return str(folder.resolve())
        try:
            return self.catalog.get(name).name
        except ModelNotFound:
            if name.endswith(":latest"):
                return self.catalog.get(name.removesuffix(":latest")).name
            raise

    @asynccontextmanager
    async def use(
        self, name: str, keep_alive: float | None = None, *, jobs: int = 1
    ) -> AsyncIterator[Model]:
        """Hold `name` loaded for one request of `jobs` generations (prompts × n).

        Refused with 503 when the slots and the queue cannot take them now, and with 400
        when they never could.
        """
        capacity = self.server.parallel + self.server.max_queue
        if jobs > capacity:
            raise InvalidParameter(
                f"this request asks for {jobs} generations (prompts × n); "
                f"the server takes at most {capacity} at once",
                hint="send fewer prompts or a smaller n, or start the server with a larger "
                "--max-queue",
            )
        entry = await self.get(name)
        if entry.active + jobs > capacity:
            raise Overloaded(
                f"model '{entry.model.name}' is busy: {entry.active} generations in flight",
                hint="retry shortly",
            )
        entry.active += jobs
        # as Ollama: each request sets how long the model stays; none given is the default
        entry.keep_alive = self.server.keep_alive if keep_alive is None else keep_alive
        try:
            yield entry.model
        finally:
            entry.active -= jobs
            entry.last_used = time.monotonic()
            if entry.keep_alive == 0 and entry.active == 0:
                await self.unload(entry.key, only_idle=True)

    async def get(self, name: str) -> Loaded:
        """The loaded entry for `name`, loading it first if needed.

        A loaded model is returned without waiting for the lock, so that loading one
        model never stalls requests to the others.
        """
        resolved = self.resolve(name)
        entry = self._loaded.get(resolved)
        if entry is None:
            async with self._lock:
                entry = self._loaded.get(resolved) or await self._load(resolved)
        entry.last_used = time.monotonic()
        return entry

    async def _load(self, name: str) -> Loaded:
        size = find_model(name, self.settings, self.catalog)[0].size
        await self._make_room(size)
        self.loading += 1
        try:
            model = await asyncio.to_thread(self._load_sync, name)
        finally:
            self.loading -= 1
        entry = Loaded(name, model, size, self.server.keep_alive)
        self._loaded[name] = entry
        return entry

    def _load_sync(self, name: str) -> Model:
        s = self.server
        model = load(
            name,
            settings=self.settings,
            n_ctx=s.n_ctx,
            threads=s.threads,
            parallel=s.parallel,
            **s.engine_options(),
        )
        model.engine.start_background()
        return model

    async def _make_room(self, incoming: int) -> None:
        """Unload idle models, oldest use first, until the newcomer fits the limits."""
        budget = self.server.memory_budget_mb * 1_000_000
        while self._loaded:
            count_ok = len(self._loaded) < self.server.max_loaded
            size_ok = not budget or self.total_size + incoming <= budget
            if count_ok and size_ok:
                return
            idle = [e for e in self._loaded.values() if e.active == 0]
            if not idle:
                return  # everything is busy: load anyway rather than fail the request
            victim = min(idle, key=lambda e: e.last_used)
            await self._unload_locked(victim.key)

    def decoding_problems(self) -> list[str]:
        """Why loaded models cannot decode now (a stopped or stuck decoding thread)."""
        return [p for p in (e.decoding_problem() for e in self._loaded.values()) if p]

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self._loaded.values())

    def loaded(self) -> list[Loaded]:
        return sorted(self._loaded.values(), key=lambda e: -e.last_used)

    async def unload(self, name: str, *, only_idle: bool = False) -> None:
        """Unload `name`; with `only_idle`, not if a request took it up meanwhile."""
        async with self._lock:
            entry = self._loaded.get(name)
            if entry is not None and not (only_idle and entry.active):
                await self._unload_locked(name)

    async def _unload_locked(self, name: str) -> None:
        entry = self._loaded.pop(name, None)
        if entry is not None:
            await asyncio.to_thread(entry.model.close)

    async def expire(self) -> None:
        """Unload models idle past their keep_alive (called periodically)."""
        now = time.monotonic()
        for entry in list(self._loaded.values()):
            deadline = entry.expires_at
            if entry.active == 0 and deadline is not None and deadline <= now:
                await self.unload(entry.key, only_idle=True)

    async def close(self) -> None:
        for name in list(self._loaded):
            await self.unload(name)

"""Continuous batching: N slots share one llama.cpp context, one sequence id each.

Each `step()` admits waiting jobs into free slots (the slot whose cached tokens
share the longest prefix with the new prompt wins, so its KV cache is reused; a slot
about to lose most of its cache saves it to the RAM cache first, and takes back a saved
state that serves the new prompt better, see ramcache.py), packs one batch with every
generating slot's last token plus as much pending prompt as fits, decodes it once, and
samples each slot with its own sampler.
Jobs join and leave between steps. The same code serves one in-process stream
(the caller drives `step()`) and the server (a thread drives it). A failure in one job's
setup or sampling ends that job alone, with the error as its last item; the thread goes on,
and reports how it is doing (`liveness()`) for a health check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import llama_cpp
from llama_cpp import _internals as internals

from danlu.engine.base import Chunk, Timing, TokenLogprob, Usage
from danlu.engine.llamacpp import native
from danlu.engine.llamacpp.probs import after_chain
from danlu.engine.llamacpp.ramcache import RamCache
from danlu.engine.llamacpp.slot import Slot, SlotJob
from danlu.engine.sampling import SamplingParams
from danlu.errors import BackendError, DanluError

log = logging.getLogger("danlu.engine")


@dataclass(frozen=True)
class Liveness:
    """How the decoding thread is doing, for a health check."""

    running: bool  # the thread is alive and has not been told to stop
    step_seconds: float  # how long the step under way has run; 0 while it waits for work


def as_error(exc: Exception, doing: str) -> DanluError:
    """`exc` as the error a job ends with: ours as they are, anything else logged as a bug."""
    if isinstance(exc, DanluError):
        return exc
    log.error("%s failed", doing, exc_info=exc)
    return BackendError(
        f"internal error while {doing}: {type(exc).__name__}",
        hint="a bug in danlu; other requests are not affected",
    )


class Scheduler:
    """Owns the context's sequences; all decoding happens in `step()`."""

    def __init__(
        self,
        model: internals.LlamaModel,
        ctx: internals.LlamaContext,
        *,
        n_slots: int,
        n_batch: int,
        ram: RamCache | None = None,
    ) -> None:
        self._model = model
        self._ctx = ctx
        self._n_batch = n_batch
        self._batch = internals.LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=n_slots)
        self.slots = [Slot(i) for i in range(n_slots)]
        self._waiting: deque[SlotJob] = deque()
        self._calls: deque[tuple[Callable[[], Any], Future]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = False
        self._idle = True  # the thread waits for work
        self._beat = time.monotonic()  # when the thread last began a step
        self._eog: dict[int, bool] = {}
        self.ram = ram

    # -- submitting work ---------------------------------------------------------------

    def submit(self, job: SlotJob) -> None:
        with self._cond:
            self._waiting.append(job)
            self._cond.notify()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the decoding thread between steps (directly when there is none)."""
        if self._thread is None:
            return fn()
        future: Future = Future()
        with self._cond:
            self._calls.append((fn, future))
            self._cond.notify()
        return future.result()

    @property
    def threaded(self) -> bool:
        return self._thread is not None

    @property
    def queue_depth(self) -> int:
        return len(self._waiting)

    @property
    def active(self) -> int:
        return sum(1 for s in self.slots if s.job is not None)

    # -- the background loop (server) -------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="danlu-decode", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._idle = True
                while self._running and not self._has_work():
                    self._cond.wait()
                if not self._running:
                    return
                # the beat first: a reader never sees "busy" beside the beat of long ago
                self._beat = time.monotonic()
                self._idle = False
            try:
                self.step()
            except Exception as exc:  # a fault outside any one job's part: end them all, go on
                error = as_error(exc, "a decode step")
                self._fail([s for s in self.slots if s.job is not None], error)
                self._fail_waiting(error)

    def liveness(self) -> Liveness:
        """Whether the decoding thread runs, and how long its current step has taken."""
        thread = self._thread
        running = self._running and thread is not None and thread.is_alive()
        return Liveness(running, 0.0 if self._idle else time.monotonic() - self._beat)

    def _has_work(self) -> bool:
        return bool(self._waiting or self._calls or self.active)

    # -- one decode step -----------------------------------------------------------------------

    def step(self) -> None:
        """Admit, batch, decode and sample once."""
        self._run_calls()
        self._drop_cancelled()
        self._admit()
        rows = self._fill_batch()
        if not rows:
            return
        try:
            native.decode(self._ctx, self._batch)
        except BackendError as exc:
            self._fail([slot for slot, _ in rows], exc)
            return
        for slot, row in rows:
            slot.cached.extend(slot.in_flight)
            slot.in_flight = []
            if row is not None:
                self._sample_or_end(slot, row)

    def _run_calls(self) -> None:
        while self._calls:  # deque.popleft is atomic; no lock needed
            fn, future = self._calls.popleft()
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller's thread
                future.set_exception(exc)

    def _drop_cancelled(self) -> None:
        if self._waiting:
            with self._cond:
                self._waiting = deque(j for j in self._waiting if not j.cancelled.is_set())
        for slot in self.slots:
            if slot.job is not None and slot.job.cancelled.is_set():
                slot.release()

    def _admit(self) -> None:
        while self._waiting:
            free = [s for s in self.slots if s.job is None]
            with self._cond:
                if not free or not self._waiting:
                    return
                job = self._waiting.popleft()
            slot = max(free, key=lambda s: (s.shared_prefix(job.prompt), -s.last_used))
            try:
                self._start(slot, job)
            except Exception as exc:  # this job's setup failed: it alone ends
                self.forget(slot, 0)  # whatever the slot holds now is not known for sure
                slot.release()
                self._deliver(job, as_error(exc, "starting a job"))

    def _start(self, slot: Slot, job: SlotJob) -> None:
        """Reuse what `slot` holds of the job's prompt, and run the job there."""
        shared = slot.shared_prefix(job.prompt)
        # through the RAM cache unless the slot keeps at least half of its cache
        if self.ram is not None and (not slot.cached or shared * 2 < len(slot.cached)):
            shared = self._swap(slot, job.prompt, shared)
        keep = min(shared, len(job.prompt) - 1)
        self.forget(slot, keep)
        slot.assign(job, keep, native.build_sampler(job.params, self._model))

    def _swap(self, slot: Slot, prompt: list[int], shared: int) -> int:
        """Save what `slot` would lose to the RAM cache, and restore a better saved state;
        the prefix of `prompt` the slot then holds (`shared` when nothing was restored)."""
        assert self.ram is not None
        seq = slot.seq_id
        size = native.seq_state_size(self._ctx, seq)
        self.ram.save(slot.cached, size, lambda: native.seq_state(self._ctx, seq))
        saved = self.ram.take(prompt, slot.cached)
        if saved is None:
            return shared
        self.forget(slot, 0)
        try:
            native.set_seq_state(self._ctx, seq, saved.state)
        except BackendError:
            self.forget(slot, 0)  # the prompt is processed from scratch instead
            return 0
        slot.cached = list(saved.tokens)
        return slot.shared_prefix(prompt)

    def forget(self, slot: Slot, keep: int) -> None:
        """Cut `slot`'s KV cache back to its first `keep` tokens."""
        llama_cpp.llama_memory_seq_rm(self._ctx.memory, slot.seq_id, keep, -1)
        del slot.cached[keep:]

    def _fill_batch(self) -> list[tuple[Slot, int | None]]:
        """Pack generating slots first (one token each), then pending prompt chunks."""
        self._batch.reset()
        rows: list[tuple[Slot, int | None]] = []
        room = self._n_batch
        busy = [s for s in self.slots if s.job is not None]
        for slot in sorted(busy, key=lambda s: bool(s.pending)):
            if room == 0:
                break
            part = [slot.next_token] if not slot.pending else slot.pending[:room]
            if slot.pending:
                del slot.pending[: len(part)]
            done_prompt = not slot.pending
            native.fill_batch(self._batch, part, len(slot.cached), slot.seq_id)
            if not done_prompt:  # a middle chunk of the prompt: no logits wanted
                self._batch.batch.logits[self._batch.batch.n_tokens - 1] = False
            slot.in_flight = part
            rows.append((slot, self._batch.batch.n_tokens - 1 if done_prompt else None))
            room -= len(part)
        return rows

    def _sample_or_end(self, slot: Slot, row: int) -> None:
        job = slot.job
        try:
            self._sample(slot, row)
        except Exception as exc:  # this job's step failed (a grammar at a dead end): it alone ends
            if slot.job is job:
                slot.release()  # its cache holds what was decoded, which stays reusable
            if job is not None:
                self._deliver(job, as_error(exc, "sampling"))

    def _sample(self, slot: Slot, row: int) -> None:
        job = slot.job
        assert job is not None and slot.sampler is not None
        if slot.prefilled is None:
            slot.prefilled = time.perf_counter()
        token = slot.sampler.sample(self._ctx, row)
        logprobs = ()
        if job.params.logprobs is not None:
            logprobs = (self._token_logprobs(slot.sampler, row, token, job.params),)
        if self._is_eog(token) and not job.params.ignore_eos:
            # the end token is not text, but its logprob is reported, as vLLM does, so that
            # harnesses that ask for one token past an echoed prompt find it there
            self._finish(slot, "stop", logprobs)
            return
        slot.produced += 1
        piece = slot.text.push(token)
        job.emit(Chunk(piece, (token,), logprobs=logprobs))
        if slot.text.stopped:
            self._finish(slot, "stop")
        elif slot.produced >= slot.budget:
            self._finish(slot, "length")
        else:
            slot.next_token = token

    def _token_logprobs(
        self, sampler: native.Sampler, row: int, token: int, params: SamplingParams
    ) -> TokenLogprob:
        """The model's raw logprobs at `row`, or the sampler chain's (post_sampling_probs)."""
        if params.post_sampling_probs:
            return after_chain(sampler, token, params)
        return native.token_logprobs(self._ctx, row, self._model, token, params.logprobs or 0)

    def _is_eog(self, token: int) -> bool:
        """Whether `token` ends generation, asked of llama.cpp once per token id."""
        eog = self._eog.get(token)
        if eog is None:
            eog = self._eog[token] = llama_cpp.llama_vocab_is_eog(self._model.vocab, token)
        return eog

    def _finish(self, slot: Slot, reason: str, logprobs: tuple[TokenLogprob, ...] = ()) -> None:
        job = slot.job
        assert job is not None and slot.prefilled is not None
        now = time.perf_counter()
        prompt = len(job.prompt)
        timing = Timing(
            slot.prefilled - slot.started, now - slot.prefilled, prompt - slot.reused, slot.produced
        )
        usage = Usage(prompt, slot.produced, slot.reused)
        tail = slot.text.flush()
        slot.release()
        job.emit(Chunk(tail, finish_reason=reason, usage=usage, timing=timing, logprobs=logprobs))

    def _fail(self, slots: Iterable[Slot], exc: DanluError) -> None:
        """End the jobs of `slots` with `exc`; their caches are dropped, being in doubt."""
        for slot in slots:
            job = slot.job
            self.forget(slot, 0)
            slot.in_flight = []
            slot.release()
            if job is not None:
                self._deliver(job, exc)

    def _fail_waiting(self, exc: DanluError) -> None:
        with self._cond:
            waiting, self._waiting = list(self._waiting), deque()
        for job in waiting:
            self._deliver(job, exc)

    @staticmethod
    def _deliver(job: SlotJob, item: DanluError) -> None:
        """Hand a job its error; an emit that raises cancels that job, not the loop."""
        try:
            job.emit(item)
        except Exception:
            log.exception("a job's emit failed; the job is cancelled")
            job.cancel()

    def close(self) -> None:
        self.stop()
        for slot in self.slots:
            slot.release()
        self._batch.close()

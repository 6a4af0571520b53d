"""A generation job and the slot (one llama.cpp sequence) that runs it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from danlu.engine.base import Chunk
from danlu.engine.llamacpp import native
from danlu.engine.promptcache import shared_prefix
from danlu.engine.sampling import SamplingParams
from danlu.engine.textstream import TextStream
from danlu.errors import DanluError

Emit = Callable[[Chunk | DanluError], None]


@dataclass
class SlotJob:
    """One request: prompt tokens, how to sample, where chunks go, and a cancel flag.

    `emit` is called on the decoding thread with each Chunk (the last one has a
    finish_reason) or with the DanluError that ended the job.
    """

    prompt: list[int]
    params: SamplingParams
    emit: Emit
    budget: int
    piece: Callable[[int], bytes]
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()


class Slot:
    """One sequence of the shared context: the tokens cached in it and the job it runs."""

    def __init__(self, seq_id: int) -> None:
        self.seq_id = seq_id
        self.cached: list[int] = []  # tokens whose KV entries are in this sequence
        self.last_used = 0.0
        self.job: SlotJob | None = None
        self.sampler: native.Sampler | None = None
        self.pending: list[int] = []  # prompt tokens not yet decoded
        self.in_flight: list[int] = []  # tokens in the batch being decoded
        self.next_token = -1
        self.produced = 0
        self.budget = 0
        self.reused = 0
        self.started = 0.0
        self.prefilled: float | None = None
        self.text = TextStream(lambda _: b"")

    def shared_prefix(self, prompt: list[int]) -> int:
        return shared_prefix(self.cached, prompt)

    def assign(self, job: SlotJob, keep: int, sampler: native.Sampler) -> None:
        """Start `job` here; the first `keep` prompt tokens are already cached."""
        self.job = job
        self.sampler = sampler
        self.pending = job.prompt[keep:]
        self.reused = keep
        self.produced = 0
        self.budget = job.budget
        self.started = time.perf_counter()
        self.prefilled = None
        self.text = TextStream(job.piece, job.params.stop)

    def release(self) -> None:
        """Free the slot; its cached tokens stay for the next job to reuse."""
        if self.sampler is not None:
            self.sampler.close()
        self.sampler = None
        self.job = None
        self.pending = []
        self.last_used = time.monotonic()

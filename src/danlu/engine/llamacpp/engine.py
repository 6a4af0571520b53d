"""LlamaCppEngine: GGUF inference through llama.cpp's low-level batch API.

Generation goes through the `Scheduler`, which runs `parallel` sequences in one
context and reuses each sequence's KV cache for the prefix a new prompt shares
with it: a multi-turn chat only processes the new turn. In-process callers drive
the scheduler themselves; the server starts its thread with `start_background()`.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import llama_cpp
from llama_cpp import _internals as internals

from danlu.engine.base import Chunk, LoadOptions, LogLikelihood, TokenLogprob
from danlu.engine.llamacpp import native
from danlu.engine.llamacpp.adapters import load_adapters, set_adapters
from danlu.engine.llamacpp.grammar import check_grammar
from danlu.engine.llamacpp.logs import log_router
from danlu.engine.llamacpp.machine import resolve_repack
from danlu.engine.llamacpp.ramcache import RamCache
from danlu.engine.llamacpp.scheduler import Liveness, Scheduler
from danlu.engine.llamacpp.slot import Emit, Slot, SlotJob
from danlu.engine.llamacpp.vocab import LlamaCppVocab
from danlu.engine.sampling import SamplingParams
from danlu.engine.tokens import check_token_ids
from danlu.errors import ContextOverflow, DanluError, InvalidRequest


class LlamaCppEngine(LlamaCppVocab):
    """The llama.cpp backend: one loaded GGUF model, its KV cache and its slots; its
    vocabulary methods are `LlamaCppVocab`'s."""

    formats = ("gguf",)
    vocabulary = LlamaCppVocab  # the tokenizer alone, for `registry.open_vocabulary`

    def __init__(self, path: Path, options: LoadOptions) -> None:
        log: list[str] = []  # llama.cpp's load and set-up notes, read back as facts
        self._model = native.load_model(path, options, log)
        self._options = options
        train_ctx = self._model.n_ctx_train()
        limit = int(train_ctx * options.context_factor)  # RoPE scaling stretches it
        self._n_ctx = min(options.n_ctx or limit, limit)
        n_seq = options.parallel + 1  # the extra sequence is for scoring
        self._ctx = native.new_context(
            self._model, options, n_ctx=self._n_ctx, n_seq=n_seq, log=log
        )
        self.facts = self._facts(native.context_facts(log))
        self.scheduler = Scheduler(
            self._model,
            self._ctx,
            n_slots=options.parallel,
            n_batch=self._ctx.params.n_batch,
            ram=RamCache(options.cache_ram) if options.cache_ram else None,
        )
        self._score_slot = Slot(options.parallel)
        self._embed_ctx: internals.LlamaContext | None = None
        verbose = bool(options.extra.get("verbose", False))
        # GGUF LoRA adapters (a Modelfile's ADAPTER), applied to every decode of the context
        with log_router().tap(log, verbose):
            set_adapters(self._ctx, load_adapters(self._model, options.adapters))
        self._pieces: dict[int, bytes] = {}
        # -v: llama.cpp's notes after the load (while decoding) reach stderr until close
        self._release_log = log_router().hold_verbose() if verbose else lambda: None

    def _facts(self, read_back: dict[str, str]) -> dict[str, str]:
        """The settings in effect, as llama.cpp reports them where it does."""
        o, params = self._options, self._ctx.params
        return {
            "flash_attn": read_back.get("flash_attn", o.flash_attn),
            "flash_attn_asked": o.flash_attn,
            "repack": "on" if resolve_repack(o.repack) else "off",
            "repacked": read_back.get("repacked", "none"),
            "weight_buffers": read_back.get("weight_buffers", "?"),
            "cache_type_k": read_back.get("cache_type_k", o.cache_type_k),
            "cache_type_v": read_back.get("cache_type_v", o.cache_type_v),
            "n_batch": str(params.n_batch),
            "n_ubatch": str(params.n_ubatch),
            "threads": str(params.n_threads),
            "threads_batch": str(params.n_threads_batch),
            "mmap": "on" if o.mmap else "off",
            "mlock": "on" if o.mlock else "off",
            "rope_scaling": o.rope_scaling or "model's own",
            "cache_ram": f"{o.cache_ram} MiB" if o.cache_ram else "off",
        }

    # -- facts about the model ---------------------------------------------------------

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    # -- generation ---------------------------------------------------------------------------

    def stream(self, prompt: Sequence[int], params: SamplingParams) -> Iterator[Chunk]:
        items: queue.SimpleQueue = queue.SimpleQueue()
        job = self.job(prompt, params, items.put)
        self.scheduler.submit(job)
        try:
            while True:
                item = self._next(items)
                if isinstance(item, DanluError):
                    raise item
                yield item
                if item.finish_reason:
                    return
        finally:
            job.cancelled.set()  # a consumer that stops early frees its slot

    def submit(self, prompt: Sequence[int], params: SamplingParams, emit: Emit) -> SlotJob:
        job = self.job(prompt, params, emit)
        self.scheduler.submit(job)
        return job

    def check(self, params: SamplingParams) -> None:
        """Refuse, before a job is queued, what would fail once it runs: logit_bias ids
        outside the vocabulary, a grammar llama.cpp cannot parse (parsed here, on the
        caller's thread, by llama.cpp itself: the decoding thread never meets one)."""
        check_token_ids(sorted(params.logit_bias or ()), self.n_vocab, "logit_bias token id")
        if params.grammar:
            check_grammar(self._model, params.grammar, params.grammar_trigger)

    def liveness(self) -> Liveness:
        """How the decoding thread is doing (`start_background`), for a health check."""
        return self.scheduler.liveness()

    def job(self, prompt: Sequence[int], params: SamplingParams, emit: Emit) -> SlotJob:
        """A validated SlotJob whose chunks (or error) go to `emit` on the decoding thread."""
        prompt = list(prompt)
        self._check_fits(prompt)
        check_token_ids(params.logit_bias or (), self.n_vocab, "logit_bias token id")
        budget = self._n_ctx - len(prompt)
        if params.max_tokens is not None:
            budget = min(budget, params.max_tokens)
        return SlotJob(prompt, params, emit, budget, self._sampled_piece)

    def _next(self, items: queue.SimpleQueue) -> Chunk | DanluError:
        if self.scheduler.threaded:
            return items.get()
        while items.empty():
            self.scheduler.step()
        return items.get_nowait()

    def start_background(self) -> None:
        """Decode on a thread of its own, so many callers can stream at once."""
        self.scheduler.start()

    def reset(self) -> None:
        """Forget every cached prefix (the next prompt is processed from scratch)."""

        def clear() -> None:
            for slot in [*self.scheduler.slots, self._score_slot]:
                self.scheduler.forget(slot, 0)
            if self.scheduler.ram is not None:
                self.scheduler.ram.clear()

        self.scheduler.call(clear)

    def _check_fits(self, prompt: list[int]) -> None:
        if not prompt:
            raise InvalidRequest("the prompt is empty")
        check_token_ids(prompt, self.n_vocab)
        if len(prompt) >= self._n_ctx:
            raise ContextOverflow(
                f"the prompt has {len(prompt)} tokens but the context holds {self._n_ctx}",
                hint="shorten the input or raise the context length (-c / num_ctx)",
            )

    # -- saved prompt state (--prompt-cache) ---------------------------------------------------

    def save_state(self, keep: int) -> tuple[list[int], bytes]:
        """The first `keep` tokens the last-used slot holds, and their KV state.

        The slot's cache is cut back to them first (a saved prompt leaves its answer out).
        """

        def save() -> tuple[list[int], bytes]:
            slot = max(self.scheduler.slots, key=lambda s: s.last_used)
            self.scheduler.forget(slot, min(keep, len(slot.cached)))
            return list(slot.cached), native.seq_state(self._ctx, slot.seq_id)

        return self.scheduler.call(save)

    def restore_state(self, tokens: Sequence[int], data: bytes) -> None:
        """Put a saved state into the first slot: the next prompt reuses the prefix it shares."""
        tokens = list(tokens)
        self._check_fits(tokens)

        def restore() -> None:
            slot = self.scheduler.slots[0]
            self.scheduler.forget(slot, 0)
            try:
                native.set_seq_state(self._ctx, slot.seq_id, data)
            except DanluError:
                self.scheduler.forget(slot, 0)  # nothing half-loaded stays behind
                raise
            slot.cached = tokens

        self.scheduler.call(restore)

    # -- scoring and embeddings ---------------------------------------------------------------

    def loglikelihood(
        self, context: Sequence[int], continuation: Sequence[int], top: int = 1
    ) -> LogLikelihood:
        if not context or not continuation:
            raise InvalidRequest("loglikelihood needs a non-empty context and continuation")
        tokens = list(context) + list(continuation)
        self._check_fits(tokens)
        return self.scheduler.call(lambda: self._score(tokens, len(context) - 1, max(top, 1)))

    def _score(self, tokens: list[int], first: int, top: int) -> LogLikelihood:
        """Decode tokens[:-1] on the scoring sequence; read logits from row `first` on.

        Always from position 0 in n_batch blocks, never from a cached prefix: llama.cpp's
        sums move by up to ~0.1 nats with the batch shape, and a score must not depend on
        what was scored before (an evaluation through the server must match one in-process).
        """
        slot = self._score_slot
        self.scheduler.forget(slot, 0)
        batch = internals.LlamaBatch(n_tokens=self._ctx.params.n_batch, embd=0, n_seq_max=1)
        scores: list[TokenLogprob] = []
        try:
            todo = tokens[len(slot.cached) : -1]
            for begin in range(0, len(todo), self._ctx.params.n_batch):
                part = todo[begin : begin + self._ctx.params.n_batch]
                base = len(slot.cached)
                batch.reset()
                native.fill_batch(batch, part, base, slot.seq_id, logits_from=0)
                native.decode(self._ctx, batch)
                slot.cached.extend(part)
                for row in range(len(part)):
                    if base + row >= first:
                        target = tokens[base + row + 1]
                        scores.append(
                            native.token_logprobs(self._ctx, row, self._model, target, top)
                        )
        except DanluError:
            self.scheduler.forget(slot, 0)
            raise
        finally:
            batch.close()
        logprobs = tuple(s.logprob for s in scores)
        greedy = all(s.top[0][0] == s.token for s in scores)
        return LogLikelihood(sum(logprobs), greedy, logprobs, tuple(s.top for s in scores))

    def embed(self, inputs: Sequence[Sequence[int]]) -> list[list[float]]:
        token_lists = [list(tokens) for tokens in inputs]
        for tokens in token_lists:
            if not tokens or len(tokens) > self._n_ctx:
                raise InvalidRequest(
                    f"cannot embed an input of {len(tokens)} tokens (1..{self._n_ctx})"
                )
            check_token_ids(tokens, self.n_vocab)
        # one text per call: running generations get a decode step between texts
        return [self.scheduler.call(partial(self._embed_one, t)) for t in token_lists]

    def _embed_one(self, tokens: list[int]) -> list[float]:
        ctx = self._embedding_context()
        batch = internals.LlamaBatch(n_tokens=len(tokens), embd=0, n_seq_max=1)
        try:
            llama_cpp.llama_memory_clear(ctx.memory, True)
            native.fill_batch(batch, tokens, 0, 0, logits_from=0)
            native.decode(ctx, batch)
            ptr = llama_cpp.llama_get_embeddings_seq(ctx.ctx, 0)
            vec = [float(ptr[i]) for i in range(self._model.n_embd())]
        finally:
            batch.close()
        norm = sum(v * v for v in vec) ** 0.5 or 1.0
        return [v / norm for v in vec]

    def _embedding_context(self) -> internals.LlamaContext:
        if self._embed_ctx is None:
            self._embed_ctx = native.new_context(
                self._model, self._options, n_ctx=self._n_ctx, embeddings=True
            )
        return self._embed_ctx

    def close(self) -> None:
        self._release_log()
        self.scheduler.close()
        for res in (self._embed_ctx, self._ctx, self._model):
            if res is not None:
                res.close()
        self._embed_ctx = None

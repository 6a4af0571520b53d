"""LlamaCppEngine: GGUF inference through llama.cpp's low-level batch API.

One sequence (seq id 0) holds the running conversation; a new prompt reuses the
KV cache for the prefix it shares with what is already there, so a multi-turn
chat only processes the new turn.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path

import llama_cpp
from llama_cpp import _internals as internals

from danlu.engine.base import Chunk, LoadOptions, LogLikelihood, Timing, Usage
from danlu.engine.llamacpp import native
from danlu.engine.sampling import SamplingParams
from danlu.engine.textstream import TextStream
from danlu.errors import ContextOverflow, InvalidRequest


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class LlamaCppEngine:
    """The llama.cpp backend: one loaded GGUF model and its KV cache."""

    formats = ("gguf",)

    def __init__(self, path: Path, options: LoadOptions) -> None:
        self._model = native.load_model(path, options)
        self._threads = options.threads
        n_ctx = options.n_ctx or self._model.n_ctx_train()
        self._n_ctx = min(n_ctx, self._model.n_ctx_train())
        self._ctx = native.new_context(self._model, n_ctx=self._n_ctx, threads=options.threads)
        self._n_batch = self._ctx.params.n_batch
        self._batch = internals.LlamaBatch(n_tokens=self._n_batch, embd=0, n_seq_max=1)
        self._cached: list[int] = []  # tokens whose KV entries sit in sequence 0
        self._embed_ctx: internals.LlamaContext | None = None

    # -- facts about the model -------------------------------------------------------

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @cached_property
    def metadata(self) -> dict[str, str]:
        return self._model.metadata()

    @property
    def n_vocab(self) -> int:
        return self._model.n_vocab()

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        want_bos = add_bos and self._model.add_bos_token()
        tokens = self._model.tokenize(text.encode("utf-8"), False, special)
        bos = self._model.token_bos()
        if want_bos and bos >= 0 and (not tokens or tokens[0] != bos):
            tokens.insert(0, bos)
        return tokens

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        return self._model.detokenize(list(tokens), special=special).decode("utf-8", "replace")

    def token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return (
            self._model.token_to_piece(token, special=True).rstrip(b"\0").decode("utf-8", "replace")
        )

    def special_tokens(self) -> tuple[str, str]:
        """(BOS text, EOS text), as chat templates refer to them."""
        return self.token_text(self._model.token_bos()), self.token_text(self._model.token_eos())

    def is_eog(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self._model.vocab, token))

    # -- generation ---------------------------------------------------------------------

    def stream(self, prompt: Sequence[int], params: SamplingParams) -> Iterator[Chunk]:
        prompt = list(prompt)
        self._check_fits(prompt)
        started = time.perf_counter()
        reused = self._prefill(prompt)
        prefilled = time.perf_counter()
        budget = self._n_ctx - len(prompt)
        if params.max_tokens is not None:
            budget = min(budget, params.max_tokens)
        sampler = native.build_sampler(params, self._model)
        text = TextStream(self._piece, params.stop)
        produced = 0
        finish = "length"
        try:
            while produced < budget:
                token = sampler.sample(self._ctx, -1)
                if self.is_eog(token) and not params.ignore_eos:
                    finish = "stop"
                    break
                produced += 1
                piece = text.push(token)
                if text.stopped:
                    finish = "stop"
                    yield Chunk(piece, (token,))
                    break
                yield Chunk(piece, (token,))
                if produced < budget:
                    self._append([token])
        finally:
            sampler.close()
        ended = time.perf_counter()
        yield Chunk(
            text.flush(),
            finish_reason=finish,
            usage=Usage(len(prompt), produced, reused),
            timing=Timing(prefilled - started, ended - prefilled, len(prompt) - reused, produced),
        )

    def reset(self) -> None:
        """Forget the KV cache (the next prompt is processed from scratch)."""
        self._truncate(0)

    def _piece(self, token: int) -> bytes:
        return self._model.token_to_piece(token, special=False).rstrip(b"\0")

    def _check_fits(self, prompt: list[int]) -> None:
        if not prompt:
            raise InvalidRequest("the prompt is empty")
        if len(prompt) >= self._n_ctx:
            raise ContextOverflow(
                f"the prompt has {len(prompt)} tokens but the context holds {self._n_ctx}",
                hint="shorten the input or raise the context length (-c / num_ctx)",
            )

    def _prefill(self, prompt: list[int]) -> int:
        """Make the KV cache hold exactly `prompt`; returns how many tokens were reused."""
        # Always re-run at least the last prompt token: its logits are not cached.
        keep = min(_common_prefix(self._cached, prompt), len(prompt) - 1)
        self._truncate(keep)
        self._append(prompt[keep:])
        return keep

    def _truncate(self, keep: int) -> None:
        # Unconditional: after an interrupted decode the cache may hold untracked tokens.
        llama_cpp.llama_memory_seq_rm(self._ctx.memory, 0, keep, -1)
        del self._cached[keep:]

    def _append(self, tokens: list[int], logits_from: int | None = None) -> None:
        """Decode `tokens` after the cached ones, in chunks of at most n_batch."""
        for start in range(0, len(tokens), self._n_batch):
            self._decode_chunk(tokens[start : start + self._n_batch], logits_from)

    def _decode_chunk(self, part: list[int], logits_from: int | None = None) -> int:
        """Decode one batch after the cached tokens; returns the position of part[0]."""
        base = len(self._cached)
        self._batch.reset()
        native.fill_batch(self._batch, part, base, 0, logits_from)
        try:
            native.decode(self._ctx, self._batch)
        except Exception:
            self._truncate(0)  # the cache state is unknown after a failed decode
            raise
        self._cached.extend(part)
        return base

    # -- scoring and embeddings -------------------------------------------------------------

    def loglikelihood(self, context: Sequence[int], continuation: Sequence[int]) -> LogLikelihood:
        tokens = list(context) + list(continuation)
        if not context or not continuation:
            raise InvalidRequest("loglikelihood needs a non-empty context and continuation")
        self._check_fits(tokens)
        scores: list[tuple[float, bool]] = []
        first = len(context) - 1  # the row whose logits predict continuation[0]
        self._truncate(min(_common_prefix(self._cached, tokens), first))
        start_pos = len(self._cached)
        todo = tokens[start_pos:-1] if len(tokens) - 1 > start_pos else []
        for begin in range(0, len(todo), self._n_batch):
            part = todo[begin : begin + self._n_batch]
            base = self._decode_chunk(part, logits_from=0)
            for row in range(len(part)):
                pos = base + row
                if pos >= first:
                    target = tokens[pos + 1]
                    scores.append(native.log_softmax_at(self._ctx, row, self.n_vocab, target))
        logprobs = tuple(s for s, _ in scores)
        return LogLikelihood(sum(logprobs), all(g for _, g in scores), logprobs)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        ctx = self._embedding_context()
        n_embd = self._model.n_embd()
        batch = internals.LlamaBatch(n_tokens=self._n_ctx, embd=0, n_seq_max=1)
        vectors = []
        for text in texts:
            tokens = self.tokenize(text, add_bos=True)
            if not tokens or len(tokens) > self._n_ctx:
                raise InvalidRequest(
                    f"cannot embed a text of {len(tokens)} tokens (limit {self._n_ctx})"
                )
            llama_cpp.llama_memory_clear(ctx.memory, True)
            batch.reset()
            native.fill_batch(batch, tokens, 0, 0, 0)
            native.decode(ctx, batch)
            ptr = llama_cpp.llama_get_embeddings_seq(ctx.ctx, 0)
            vec = [float(ptr[i]) for i in range(n_embd)]
            norm = sum(v * v for v in vec) ** 0.5 or 1.0
            vectors.append([v / norm for v in vec])
        batch.close()
        return vectors

    def _embedding_context(self) -> internals.LlamaContext:
        if self._embed_ctx is None:
            self._embed_ctx = native.new_context(
                self._model, n_ctx=self._n_ctx, threads=self._threads, embeddings=True
            )
        return self._embed_ctx

    def close(self) -> None:
        for res in (self._embed_ctx, self._batch, self._ctx, self._model):
            if res is not None:
                res.close()
        self._embed_ctx = None

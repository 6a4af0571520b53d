"""Thin helpers over llama-cpp-python's native wrappers: load, batch, sampler chain.

Kept apart from the engine logic so the batching scheduler can reuse them.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Sequence
from pathlib import Path

import llama_cpp
from llama_cpp import _internals as internals
from llama_cpp._logger import set_verbose
from llama_cpp._utils import suppress_stdout_stderr

from danlu.engine.base import LoadOptions, TokenLogprob
from danlu.engine.sampling import SamplingParams
from danlu.errors import BackendError, CorruptModel, InvalidParameter

ALL_LAYERS = 0x7FFFFFFF


@llama_cpp.llama_log_callback
def _drop_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    """llama.cpp's log sink when not verbose: its notes would break the CLI's clean output."""


def load_model(path: Path, options: LoadOptions) -> internals.LlamaModel:
    """Load a GGUF file; a file llama.cpp cannot read raises CorruptModel."""
    verbose = bool(options.extra.get("verbose", False))
    set_verbose(verbose)
    if not verbose:
        llama_cpp.llama_log_set(_drop_log, ctypes.c_void_p(0))
    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = ALL_LAYERS if options.gpu_layers < 0 else options.gpu_layers
    try:
        return internals.LlamaModel(path_model=str(path), params=params, verbose=False)
    except ValueError:
        raise CorruptModel(
            f"llama.cpp could not load '{path}'",
            hint="the file is not a valid GGUF model, or is truncated; re-import or re-pull it",
        ) from None


def new_context(
    model: internals.LlamaModel,
    *,
    n_ctx: int,
    threads: int,
    n_seq: int = 1,
    n_batch: int = 512,
    embeddings: bool = False,
) -> internals.LlamaContext:
    """A llama.cpp context with `n_ctx` tokens of KV cache per sequence."""
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = n_ctx * n_seq
    params.n_batch = min(n_batch, n_ctx) if not embeddings else n_ctx
    params.n_ubatch = params.n_batch
    params.n_seq_max = n_seq
    params.n_threads = threads
    params.n_threads_batch = threads
    params.embeddings = embeddings
    # llama.cpp's "auto" turns flash attention on, which halves prompt speed on CPU here.
    params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    if embeddings:
        params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_MEAN
    try:
        # llama.cpp logs context set-up notes on stderr; the CLI must stay clean.
        with suppress_stdout_stderr(disable=False):
            return internals.LlamaContext(model=model, params=params, verbose=False)
    except ValueError:
        raise BackendError(
            f"llama.cpp could not create a context of {n_ctx} tokens",
            hint="try a smaller context length (-c)",
        ) from None


def fill_batch(
    batch: internals.LlamaBatch,
    tokens: Sequence[int],
    start_pos: int,
    seq_id: int = 0,
    logits_from: int | None = None,
) -> None:
    """Append `tokens` at positions start_pos.. of `seq_id`.

    Logits are requested for the last token, and for every token from index
    `logits_from` on when given (log-likelihood scoring needs them all).
    """
    b = batch.batch
    first = b.n_tokens
    for i, tok in enumerate(tokens):
        j = first + i
        b.token[j] = tok
        b.pos[j] = start_pos + i
        b.n_seq_id[j] = 1
        b.seq_id[j][0] = seq_id
        b.logits[j] = logits_from is not None and i >= logits_from
    b.logits[first + len(tokens) - 1] = True
    b.n_tokens = first + len(tokens)


def decode(ctx: internals.LlamaContext, batch: internals.LlamaBatch) -> None:
    """Run one llama_decode; a failure (KV cache full, abort) raises BackendError."""
    rc = llama_cpp.llama_decode(ctx.ctx, batch.batch)
    if rc != 0:
        raise BackendError(f"llama_decode failed with code {rc}", hint="the context may be full")


def build_sampler(params: SamplingParams, model: internals.LlamaModel) -> internals.LlamaSampler:
    """The llama.cpp sampler chain for `params`, in llama.cpp's own default order."""
    chain = internals.LlamaSampler()
    if params.logit_bias:
        chain.add_logit_bias(model.n_vocab(), params.logit_bias)
    if params.grammar:
        add_grammar(chain, model, params.grammar, params.grammar_trigger)
    if params.repeat_penalty != 1.0 or params.presence_penalty or params.frequency_penalty:
        last_n = model.n_ctx_train() if params.repeat_last_n == -1 else params.repeat_last_n
        chain.add_penalties(
            model.n_vocab(),
            last_n,
            params.repeat_penalty,
            params.frequency_penalty,
            params.presence_penalty,
        )
    if params.greedy:
        chain.add_greedy()
        return chain
    if params.top_k > 0:
        chain.add_top_k(params.top_k)
    if params.top_p < 1.0:
        chain.add_top_p(params.top_p, 1)
    if params.min_p > 0.0:
        chain.add_min_p(params.min_p, 1)
    chain.add_temp(params.temperature)
    seed = llama_cpp.LLAMA_DEFAULT_SEED if params.seed is None else params.seed
    chain.add_dist(seed)
    return chain


def add_grammar(
    chain: internals.LlamaSampler,
    model: internals.LlamaModel,
    gbnf: str,
    trigger: str | None = None,
) -> None:
    """Constrain sampling to a GBNF grammar whose start rule is `root`.

    With a `trigger` regex the grammar is lazy: output is free until the text matches,
    then the grammar constrains it from the trigger's first group on.
    """
    if trigger is None:
        sampler = llama_cpp.llama_sampler_init_grammar(model.vocab, gbnf.encode("utf-8"), b"root")
    else:
        patterns = (ctypes.c_char_p * 1)(trigger.encode("utf-8"))
        sampler = llama_cpp.llama_sampler_init_grammar_lazy_patterns(
            model.vocab, gbnf.encode("utf-8"), b"root", patterns, 1, None, 0
        )
    if not sampler:
        raise InvalidParameter("the grammar does not parse", hint="check the GBNF or schema")
    llama_cpp.llama_sampler_chain_add(chain.sampler, sampler)


def _log_probs(ctx: internals.LlamaContext, row: int, n_vocab: int):
    """Log-softmax of the logits at batch row `row`, as float64 numpy."""
    import numpy as np

    ptr = llama_cpp.llama_get_logits_ith(ctx.ctx, row)
    logits = np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)
    top = float(logits.max())
    return logits - (top + math.log(float(np.exp(logits - top).sum())))


def token_logprobs(
    ctx: internals.LlamaContext, row: int, model: internals.LlamaModel, token: int, top: int
) -> TokenLogprob:
    """The sampled token's logprob and the `top` most likely tokens at this row."""
    import numpy as np

    logp = _log_probs(ctx, row, model.n_vocab())
    best = np.argpartition(-logp, top)[:top] if top else []
    ranked = sorted(((int(t), float(logp[t])) for t in best), key=lambda x: -x[1])
    return TokenLogprob(token, float(logp[token]), tuple(ranked))

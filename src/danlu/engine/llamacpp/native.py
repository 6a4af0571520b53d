"""Thin helpers over llama-cpp-python's native wrappers: load, batch, sampler chain.

Kept apart from the engine logic so the batching scheduler can reuse them.
"""

from __future__ import annotations

import ctypes
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import llama_cpp
from llama_cpp import _internals as internals

from danlu.engine.base import KvCacheType, LoadOptions, TokenLogprob
from danlu.engine.llamacpp.grammar import GrammarSampler, grammar_sampler
from danlu.engine.llamacpp.logs import log_router
from danlu.engine.llamacpp.machine import resolve_repack
from danlu.engine.llamacpp.probs import ChainProbe
from danlu.engine.sampling import SamplingParams
from danlu.errors import BackendError, CorruptModel

ALL_LAYERS = 0x7FFFFFFF
FLASH_ATTN = {
    "on": llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED,
    "off": llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED,
    "auto": llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO,
}
KV_TYPES = {name: getattr(llama_cpp, f"GGML_TYPE_{name.upper()}") for name in get_args(KvCacheType)}
ROPE_SCALING = {
    "none": llama_cpp.LLAMA_ROPE_SCALING_TYPE_NONE,
    "linear": llama_cpp.LLAMA_ROPE_SCALING_TYPE_LINEAR,
    "yarn": llama_cpp.LLAMA_ROPE_SCALING_TYPE_YARN,
}
LOAD_MODES = {  # (mmap, mlock) -> llama.cpp's load mode
    (True, False): llama_cpp.LLAMA_LOAD_MODE_MMAP,
    (True, True): llama_cpp.LLAMA_LOAD_MODE_MMAP_MLOCK,
    (False, True): llama_cpp.LLAMA_LOAD_MODE_MLOCK,
    (False, False): llama_cpp.LLAMA_LOAD_MODE_NONE,
}
# "flash_attn = enabled" when asked for; "Flash Attention enabled" when 'auto' resolved it
_FLASH_ATTN = re.compile(r"(?:flash_attn\s+= |Flash Attention )(enabled|disabled|not supported)")
_KV_TYPES = re.compile(r"K \((\w+)\):.*V \((\w+)\):")
# "load_tensors:   CPU_REPACK model buffer size =    56.95 MiB"
_WEIGHT_BUFFER = re.compile(r"(\w+) model buffer size\s*=\s*([\d.]+) MiB")
_PLAIN_BUFFERS = ("CPU", "CPU_Mapped")  # weights as the file has them, no repacking


def load_model(
    path: Path, options: LoadOptions, log: list[str] | None = None, *, vocab_only: bool = False
) -> internals.LlamaModel:
    """Load a GGUF file; a file llama.cpp cannot read raises CorruptModel.

    llama.cpp's log lines while it loads go to `log` (the weight buffers it chose are read
    back from them by `context_facts`). `vocab_only` reads the tokenizer and metadata alone.
    """
    verbose = bool(options.extra.get("verbose", False))
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = vocab_only
    params.n_gpu_layers = ALL_LAYERS if options.gpu_layers < 0 else options.gpu_layers
    params.use_extra_bufts = resolve_repack(options.repack)
    if not options.mmap or options.mlock:  # else llama.cpp's own choice (it maps the file)
        params.load_mode = LOAD_MODES[(options.mmap, options.mlock)]
    try:
        with log_router().tap([] if log is None else log, verbose):
            return internals.LlamaModel(path_model=str(path), params=params, verbose=False)
    except ValueError:
        raise CorruptModel(
            f"llama.cpp could not load '{path}'",
            hint="the file is not a valid GGUF model, or is truncated; re-import or re-pull it",
        ) from None


def new_context(
    model: internals.LlamaModel,
    options: LoadOptions,
    *,
    n_ctx: int,
    n_seq: int = 1,
    embeddings: bool = False,
    log: list[str] | None = None,
) -> internals.LlamaContext:
    """A llama.cpp context with `n_ctx` tokens of KV cache per sequence.

    llama.cpp's log lines while it sets the context up go to `log` (read back by
    `context_facts`); a refused context raises BackendError with llama.cpp's reason.
    """
    params = context_params(options, n_ctx=n_ctx, n_seq=n_seq, embeddings=embeddings)
    lines = [] if log is None else log
    verbose = bool(options.extra.get("verbose", False))
    try:
        # llama.cpp's set-up notes reach its log callback, which routes them to `lines`
        # (and to stderr only when verbose); the process's own stdout and stderr are left
        # alone, since other threads (a server's requests, its logs) write to them meanwhile
        with log_router().tap(lines, verbose):
            return internals.LlamaContext(model=model, params=params, verbose=False)
    except ValueError:
        errors = [line.split(": ", 1)[-1] for line in lines if line.startswith("E:")]
        reason = f": {errors[-1]}" if errors else ""
        raise BackendError(
            f"llama.cpp could not create a context of {n_ctx} tokens{reason}",
            hint="check the cache types and flash attention, or try a smaller context (-c)",
        ) from None


def context_params(
    options: LoadOptions, *, n_ctx: int, n_seq: int, embeddings: bool
) -> llama_cpp.llama_context_params:
    """LoadOptions as llama.cpp's context parameters; a None option keeps llama.cpp's value."""
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = n_ctx * n_seq
    params.n_batch = min(options.n_batch, n_ctx) if not embeddings else n_ctx
    params.n_ubatch = min(options.n_ubatch or params.n_batch, params.n_batch)
    params.n_seq_max = n_seq
    params.n_threads = options.threads
    params.n_threads_batch = options.threads_batch or options.threads
    params.embeddings = embeddings
    params.flash_attn_type = FLASH_ATTN[options.flash_attn]
    params.type_k = KV_TYPES[options.cache_type_k]
    params.type_v = KV_TYPES[options.cache_type_v]
    if options.rope_scaling is not None:
        params.rope_scaling_type = ROPE_SCALING[options.rope_scaling]
    if options.rope_scale is not None:
        params.rope_freq_scale = 1.0 / options.rope_scale
    if options.rope_freq_base is not None:
        params.rope_freq_base = options.rope_freq_base
    if options.yarn_orig_ctx is not None:
        params.yarn_orig_ctx = options.yarn_orig_ctx
    if embeddings:
        params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_MEAN
    return params


def context_facts(log: list[str]) -> dict[str, str]:
    """What llama.cpp made of the settings, read back from its load and set-up log.

    Keys: flash_attn (on/off, as resolved), cache_type_k, cache_type_v, weight_buffers
    (the buffer types holding the weights and their sizes, e.g. 'CPU_REPACK 57 MiB'),
    repacked (the extra buffer types among them, or 'none').
    """
    facts: dict[str, str] = {}
    buffers: list[tuple[str, float]] = []
    for line in log:
        if found := _FLASH_ATTN.search(line):
            facts["flash_attn"] = "on" if found.group(1) == "enabled" else "off"
        if found := _KV_TYPES.search(line):
            facts["cache_type_k"], facts["cache_type_v"] = found.group(1), found.group(2)
        if found := _WEIGHT_BUFFER.search(line):
            buffers.append((found.group(1), float(found.group(2))))
    if buffers:
        facts["weight_buffers"] = ", ".join(f"{name} {size:.0f} MiB" for name, size in buffers)
        extra = [name for name, _ in buffers if name not in _PLAIN_BUFFERS]
        facts["repacked"] = ", ".join(extra) or "none"
    return facts


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


def seq_state_size(ctx: internals.LlamaContext, seq_id: int) -> int:
    """How many bytes `seq_state` would return."""
    return llama_cpp.llama_state_seq_get_size(ctx.ctx, seq_id)


def seq_state(ctx: internals.LlamaContext, seq_id: int) -> bytes:
    """The KV state of one sequence, as llama.cpp serialises it."""
    size = seq_state_size(ctx, seq_id)
    buf = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(ctx.ctx, buf, size, seq_id)
    return bytes(buf)[:written]


def set_seq_state(ctx: internals.LlamaContext, seq_id: int, data: bytes) -> None:
    """Load a sequence's KV state; one saved under other cache settings raises BackendError."""
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    if llama_cpp.llama_state_seq_set_data(ctx.ctx, buf, len(data), seq_id) == 0:
        raise BackendError(
            "llama.cpp refused the saved KV state",
            hint="it was saved with other cache types or a smaller context; delete the file",
        )


class ArgmaxSampler:
    """Greedy decoding with nothing that changes the logits: the likeliest token read
    straight from the logits row. `llama_sampler_sample` would first copy the whole
    vocabulary into a fresh candidate array each token (49,152 entries for SmolLM2); the
    pick is the same, the first maximum in both."""

    def __init__(self, n_vocab: int) -> None:
        import numpy as np

        self._row = ctypes.c_float * n_vocab
        self._array = np.frombuffer  # per token: no import lookup on the decode path

    def sample(self, ctx: internals.LlamaContext, row: int) -> int:
        address = ctypes.addressof(llama_cpp.llama_get_logits_ith(ctx.ctx, row).contents)
        return int(self._array(self._row.from_address(address), dtype="float32").argmax())

    def close(self) -> None:
        """Nothing native to free."""


def _penalised(params: SamplingParams) -> bool:
    return params.repeat_penalty != 1.0 or bool(params.presence_penalty or params.frequency_penalty)


def plain_greedy(params: SamplingParams) -> bool:
    """Greedy with nothing that changes the logits first: ArgmaxSampler's case."""
    return params.greedy and not (params.logit_bias or params.grammar or _penalised(params))


def build_sampler(params: SamplingParams, model: internals.LlamaModel) -> Sampler:
    """The llama.cpp sampler chain for `params`, in llama.cpp's own default order
    (logit bias → grammar → penalties → top-k → top-p → min-p → temperature → draw)."""
    if plain_greedy(params):
        return ArgmaxSampler(model.n_vocab())
    if not params.grammar:
        chain = internals.LlamaSampler()
        add_adjustments(chain, params, model)
        add_picking(chain, params)
        if params.post_sampling_probs and not params.greedy:
            return ChainProbe(chain, model.n_vocab())  # its survivors can be read back
        return chain
    # a grammar only masks tokens: it comes after the adjustments, before the picking
    grammar = grammar_sampler(model, params.grammar, params.grammar_trigger)
    adjust, pick = internals.LlamaSampler(), internals.LlamaSampler()
    add_adjustments(adjust, params, model)
    add_picking(pick, params)
    return GrammarSampler(grammar, adjust, pick, model.n_vocab(), allowed_needed(params))


def add_adjustments(
    chain: internals.LlamaSampler, params: SamplingParams, model: internals.LlamaModel
) -> None:
    """The samplers that change logits: logit bias, penalties."""
    if params.logit_bias:
        chain.add_logit_bias(model.n_vocab(), params.logit_bias)
    if _penalised(params):
        add_penalties(chain, model, params)


def add_picking(chain: internals.LlamaSampler, params: SamplingParams) -> None:
    """The samplers that pick a token: greedy, or top-k → top-p → min-p → temperature → draw."""
    if params.greedy:
        chain.add_greedy()
        return
    if params.top_k > 0:
        chain.add_top_k(params.top_k)
    if params.top_p < 1.0:
        chain.add_top_p(params.top_p, 1)
    if params.min_p > 0.0:
        chain.add_min_p(params.min_p, 1)
    chain.add_temp(params.temperature)
    seed = llama_cpp.LLAMA_DEFAULT_SEED if params.seed is None else params.seed
    chain.add_dist(seed)


def allowed_needed(params: SamplingParams) -> int:
    """How many of the likeliest allowed tokens the picking must see to pick as it would
    over the whole vocabulary: one for greedy, top_k for top-k; else all (a huge number)."""
    if params.greedy:
        return 1
    return params.top_k if params.top_k > 0 else 2**31


def add_penalties(
    chain: internals.LlamaSampler, model: internals.LlamaModel, params: SamplingParams
) -> None:
    """Repeat/presence/frequency penalties; with penalize_nl off, the newline keeps its logit."""
    newline = None if params.penalize_nl else NewlineLogit(llama_cpp.llama_vocab_nl(model.vocab))
    if newline is not None:
        chain.add_custom(newline.save)
    last_n = model.n_ctx_train() if params.repeat_last_n == -1 else params.repeat_last_n
    chain.add_penalties(
        model.n_vocab(),
        last_n,
        params.repeat_penalty,
        params.frequency_penalty,
        params.presence_penalty,
    )
    if newline is not None:
        chain.add_custom(newline.restore)


class NewlineLogit:
    """Saves the newline token's logit before the penalties and puts it back after them
    (llama.cpp's former penalize_nl=false). Until a sampler sorts them, candidates are
    in token-id order, so the newline is found at its own index."""

    def __init__(self, token: int) -> None:
        self.token = token
        self.logit: float | None = None

    def _index(self, candidates: llama_cpp.llama_token_data_array) -> int:
        data, token = candidates.data, self.token
        if 0 <= token < candidates.size and data[token].id == token:
            return token
        return next((i for i in range(candidates.size) if data[i].id == token), -1)

    def save(self, cur_p) -> None:
        candidates = cur_p.contents
        index = self._index(candidates)
        self.logit = candidates.data[index].logit if index >= 0 else None

    def restore(self, cur_p) -> None:
        candidates = cur_p.contents
        index = self._index(candidates)
        if index >= 0 and self.logit is not None:
            candidates.data[index].logit = self.logit


Sampler = internals.LlamaSampler | ArgmaxSampler | GrammarSampler | ChainProbe


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

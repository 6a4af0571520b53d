"""The Engine protocol every inference backend implements, and the events it yields.

A backend streams `Chunk`s for a list of prompt tokens; everything above it
(chat templates, context trimming, the CLI and server) is backend-agnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from danlu.engine.sampling import SamplingParams, describe_validation_error
from danlu.errors import InvalidParameter

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Usage:
    """Token counts for one request. cached_tokens were reused from the KV cache.

    completion_tokens counts the tokens returned: an end-of-generation token that ended
    the answer is not one (in every backend; llama-server does count it).
    """

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Timing:
    """Wall-clock split of one request: prompt processing, then generation."""

    prompt_seconds: float
    generation_seconds: float
    prompt_tokens: int
    completion_tokens: int

    @property
    def prompt_tps(self) -> float:
        return self.prompt_tokens / self.prompt_seconds if self.prompt_seconds > 0 else 0.0

    @property
    def generation_tps(self) -> float:
        tokens = self.completion_tokens
        return tokens / self.generation_seconds if self.generation_seconds > 0 else 0.0

    def speed_line(self) -> str:
        """One line for people: the CLI's stderr note, the chat's and the page's footer."""
        return (
            f"prompt: {self.prompt_tokens} tokens, {self.prompt_tps:.1f} tok/s | "
            f"generation: {self.completion_tokens} tokens, {self.generation_tps:.1f} tok/s"
        )


@dataclass(frozen=True)
class TokenLogprob:
    """A sampled token's log-probability and the most likely alternatives at that step."""

    token: int
    logprob: float
    top: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class Chunk:
    """One streamed piece of output.

    `text` is new text since the previous chunk (may be empty while a possible stop
    sequence is held back); the last chunk has finish_reason, usage and timing set.
    """

    text: str
    token_ids: tuple[int, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    timing: Timing | None = None
    notices: tuple[str, ...] = ()
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class Completion:
    """A whole generation: the non-streaming view of a chunk stream."""

    text: str
    token_ids: tuple[int, ...]
    finish_reason: FinishReason
    usage: Usage
    timing: Timing
    notices: tuple[str, ...] = field(default=())
    logprobs: tuple[TokenLogprob, ...] = field(default=())

    @classmethod
    def collect(cls, chunks: Iterable[Chunk]) -> Completion:
        """Drain a chunk stream into one Completion."""
        texts: list[str] = []
        tokens: list[int] = []
        notices: list[str] = []
        logprobs: list[TokenLogprob] = []
        last = None
        for chunk in chunks:
            texts.append(chunk.text)
            tokens.extend(chunk.token_ids)
            notices.extend(chunk.notices)
            logprobs.extend(chunk.logprobs)
            last = chunk
        if last is None or last.finish_reason is None or last.usage is None:
            raise RuntimeError("engine stream ended without a final chunk")
        assert last.timing is not None
        return cls(
            "".join(texts),
            tuple(tokens),
            last.finish_reason,
            last.usage,
            last.timing,
            tuple(notices),
            tuple(logprobs),
        )


@dataclass(frozen=True)
class LogLikelihood:
    """Log-probability of a continuation given a context (for evaluation)."""

    logprob: float
    is_greedy: bool
    token_logprobs: tuple[float, ...]
    alternatives: tuple[tuple[tuple[int, float], ...], ...] = ()  # top-N per position, best first

    @property
    def top(self) -> tuple[tuple[int, float], ...]:
        """The most likely token at each position, with its logprob."""
        return tuple(ranked[0] for ranked in self.alternatives)


# The load settings' rules, one type each: LoadOptions, the CLI, danlu's Settings and the
# server's settings all validate through these, so a value is accepted everywhere or nowhere.
ContextLength = Annotated[int, Field(ge=16, description="Context length in tokens, per sequence.")]
Threads = Annotated[int, Field(ge=1, description="CPU threads for generation.")]
GpuLayers = Annotated[
    int, Field(ge=-1, description="Layers offloaded to a GPU build (-1: all, 0: none).")
]
Parallel = Annotated[
    int, Field(ge=1, le=64, description="Sequences decoded together (server slots).")
]
BatchSize = Annotated[
    int, Field(ge=1, description="Prompt tokens per decode call (llama.cpp's -b).")
]
MicroBatch = Annotated[
    int, Field(ge=1, description="Tokens per compute pass within a batch (llama.cpp's -ub).")
]
CacheRam = Annotated[
    int,
    Field(
        ge=0,
        description="MiB of host memory for saved prompt states, so more prompts than "
        "slots keep their cache (llama-server's --cache-ram; 0: off).",
    ),
]
# llama.cpp's flash attention: on, off, or auto (llama.cpp turns it on where the backend has it).
FlashAttn = Literal["on", "off", "auto"]
# KV cache element types llama.cpp accepts for -ctk/-ctv (quantized V needs flash attention).
KvCacheType = Literal["f32", "f16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1"]
RopeScaling = Literal["none", "linear", "yarn"]

# Why flash attention is llama.cpp's auto unless a measurement says otherwise.
FLASH_ATTN_DEFAULT_REASON = (
    "llama.cpp's own default, as llama-server and llama-bench have it (on where the "
    "backend supports it); `danlu bench MODEL --save-default` measures on and off and keeps "
    "the faster for that model on this machine"
)
REPACK_DESCRIPTION = (
    "Repack quantized weights into the CPU's fast layouts at load (llama.cpp's extra buffer "
    "types: CPU_REPACK, AMX); None: on, except on a CPU with AMX, whose kernels crash "
    "(llama.cpp #20824)."
)


class LoadOptions(BaseModel):
    """How to load a model file into a backend. Names follow llama.cpp's flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_ctx: ContextLength = 4096  # per sequence
    threads: Threads = 2
    threads_batch: Threads | None = Field(
        None, description="Threads for prompt processing (-tb); None: the same as threads."
    )
    gpu_layers: GpuLayers = 0
    parallel: Parallel = 1
    n_batch: BatchSize = 512
    n_ubatch: MicroBatch | None = Field(
        None, description="Micro-batch (-ub); None: the batch size, one pass per batch."
    )
    flash_attn: FlashAttn = Field("auto", description=FLASH_ATTN_DEFAULT_REASON)
    repack: bool | None = Field(None, description=REPACK_DESCRIPTION)
    cache_type_k: KvCacheType = Field("f16", description="K cache type (-ctk).")
    cache_type_v: KvCacheType = Field(
        "f16", description="V cache type (-ctv); a quantized one needs flash attention."
    )
    mlock: bool = Field(False, description="Lock the weights in RAM (--mlock).")
    mmap: bool = Field(True, description="Map the file instead of reading it (--no-mmap: off).")
    rope_scaling: RopeScaling | None = Field(
        None, description="RoPE scaling method (--rope-scaling); None: the model's own."
    )
    rope_scale: float | None = Field(
        None, gt=0, description="Context scaling factor (--rope-scale N: freq scale 1/N)."
    )
    rope_freq_base: float | None = Field(
        None, gt=0, description="RoPE base frequency (--rope-freq-base); None: the model's."
    )
    yarn_orig_ctx: int | None = Field(
        None, ge=1, description="YaRN: the model's original context (--yarn-orig-ctx)."
    )
    cache_ram: CacheRam = 8192
    adapters: tuple[str, ...] = Field(
        (), description="GGUF LoRA adapter files applied at load, scale 1 (llama.cpp only)."
    )
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Backend-specific options (e.g. verbose)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> LoadOptions:
        if self.n_ubatch is not None and self.n_ubatch > self.n_batch:
            raise ValueError(f"n_ubatch {self.n_ubatch} is larger than n_batch {self.n_batch}")
        if self.cache_type_v not in ("f32", "f16") and self.flash_attn == "off":
            raise ValueError(
                f"a {self.cache_type_v} V cache needs flash attention (--flash-attn on or auto)"
            )
        return self

    @property
    def context_factor(self) -> float:
        """How far RoPE scaling stretches the trained context (1.0 without scaling)."""
        if self.rope_scaling in (None, "none") or self.rope_scale is None:
            return 1.0
        return self.rope_scale

    @classmethod
    def build(cls, **fields: Any) -> LoadOptions:
        """Validated options; a bad value is one InvalidParameter naming the field."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise InvalidParameter(describe_validation_error(exc)) from None


class JobHandle(Protocol):
    """A queued generation that can be cancelled (its slot is freed within one step)."""

    def cancel(self) -> None: ...


@runtime_checkable
class Vocabulary(Protocol):
    """The part of an Engine that needs no weights: a model's tokenizer. A backend whose
    class names one as `vocabulary` opens it alone (`registry.open_vocabulary`)."""

    @property
    def n_vocab(self) -> int: ...

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]: ...

    def detokenize(self, tokens: Sequence[int]) -> str: ...

    def piece(self, token: int) -> bytes: ...

    def token_text(self, token: int) -> str: ...

    def special_tokens(self) -> tuple[str, str]: ...

    def close(self) -> None: ...


@runtime_checkable
class Engine(Protocol):
    """What a backend must do. Token lists are plain `list[int]`.

    Every method that takes token ids from a caller refuses ids outside
    0..n_vocab-1 with InvalidParameter (`engine/tokens.py`) before any native call.
    """

    @property
    def n_ctx(self) -> int:
        """Context window in tokens for one sequence."""
        ...

    @property
    def metadata(self) -> dict[str, str]:
        """Model metadata (GGUF key/values or the HF config), as strings."""
        ...

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]: ...

    def detokenize(self, tokens: Sequence[int]) -> str: ...

    @property
    def n_vocab(self) -> int:
        """Number of token ids."""
        ...

    def piece(self, token: int) -> bytes:
        """The raw bytes one token adds to the output text."""
        ...

    def token_text(self, token: int) -> str:
        """How the vocabulary spells one token, control tokens included (`<|im_end|>`,
        where `piece` gives nothing); for showing tokens, not for building text."""
        ...

    def special_tokens(self) -> tuple[str, str]:
        """(BOS text, EOS text), as chat templates refer to them."""
        ...

    def stream(self, prompt: Sequence[int], params: SamplingParams) -> Iterator[Chunk]:
        """Generate after `prompt`, yielding chunks; the last carries the finish reason."""
        ...

    def check(self, params: SamplingParams) -> None:
        """Refuse `params` this backend cannot run (token ids outside the vocabulary, a
        grammar it cannot parse or does not support) with InvalidRequest, before any job is
        queued: a server answers 400 then, not an error in the middle of a stream."""
        ...

    def submit(
        self, prompt: Sequence[int], params: SamplingParams, emit: Callable[[Any], None]
    ) -> JobHandle:
        """Queue a generation; `emit` gets each Chunk (or the error) on the decoding thread."""
        ...

    def embed(self, inputs: Sequence[Sequence[int]]) -> list[list[float]]:
        """One normalised vector per token list; raises InvalidRequest if unsupported."""
        ...

    def loglikelihood(
        self, context: Sequence[int], continuation: Sequence[int], top: int = 1
    ) -> LogLikelihood:
        """Score `continuation` after `context`, with the `top` likeliest tokens per position."""
        ...

    def reset(self) -> None:
        """Forget every cached prompt prefix, so the next prompt is computed from scratch
        (a no-op for a backend that keeps none)."""
        ...

    def close(self) -> None: ...

"""`danlu.load()` and `Model`: the Python API every interface goes through.

A Model is a loaded engine plus the chat template and default sampling
parameters for it. Streaming is primary; `chat()` and `generate()` are loops
over `stream_chat()` and `stream_generate()`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from danlu.chat.context import answer_reserve, fit_messages
from danlu.chat.messages import Message, as_messages
from danlu.chat.template import ChatTemplate, resolve_template
from danlu.config import Settings
from danlu.engine.base import Chunk, Completion, Engine, LoadOptions, LogLikelihood
from danlu.engine.registry import open_engine
from danlu.engine.sampling import SamplingParams
from danlu.store import Catalog, Manifest


class Model:
    """A loaded model: chat, generate, tokenize, embed and score."""

    def __init__(
        self,
        manifest: Manifest,
        engine: Engine,
        template: ChatTemplate,
        defaults: SamplingParams | None = None,
    ) -> None:
        self.manifest = manifest
        self.engine = engine
        self.template = template
        self.defaults = defaults or SamplingParams()

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def n_ctx(self) -> int:
        return self.engine.n_ctx

    def params(self, **changes: Any) -> SamplingParams:
        """The default params with `changes` applied and validated."""
        return SamplingParams.build(self.defaults, **changes)

    # -- raw completion ------------------------------------------------------------------

    def stream_generate(self, prompt: str, **params: Any) -> Iterator[Chunk]:
        """Continue `prompt` as plain text, streaming chunks."""
        sampling = self.params(**params)
        tokens = self.engine.tokenize(prompt, add_bos=True)
        yield from self.engine.stream(tokens, sampling)

    def generate(self, prompt: str, **params: Any) -> Completion:
        return Completion.collect(self.stream_generate(prompt, **params))

    # -- chat -------------------------------------------------------------------------------

    def render(self, messages: Sequence[Message | dict[str, Any]]) -> str:
        """The exact prompt text the model sees for `messages`."""
        return self.template.render(as_messages(list(messages)))

    def stream_chat(
        self, messages: Sequence[Message | dict[str, Any]], *, keep: int = 0, **params: Any
    ) -> Iterator[Chunk]:
        """Answer the conversation, dropping the oldest turns if it outgrows the context."""
        sampling = self.params(**params)
        sampling = sampling.model_copy(update={"stop": sampling.stop + self.template.stop})
        budget = self.n_ctx - answer_reserve(self.n_ctx, sampling.max_tokens)
        fitted = fit_messages(as_messages(list(messages)), self._encode, budget, keep)
        notices = (fitted.notice,) if fitted.notice else ()
        for chunk in self.engine.stream(fitted.tokens, sampling):
            yield replace(chunk, notices=notices) if chunk.finish_reason else chunk

    def chat(
        self, messages: Sequence[Message | dict[str, Any]], *, keep: int = 0, **params: Any
    ) -> Completion:
        return Completion.collect(self.stream_chat(messages, keep=keep, **params))

    def _encode(self, messages: list[Message]) -> list[int]:
        return self.engine.tokenize(self.template.render(messages), add_bos=True)

    # -- tokens, vectors, scores ------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        return self.engine.tokenize(text, special=special)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self.engine.detokenize(tokens)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.engine.embed(texts)

    def loglikelihood(self, context: str, continuation: str) -> LogLikelihood:
        """log P(continuation | context), tokenizing the two parts as they join."""
        ctx_tokens = self.engine.tokenize(context, add_bos=True)
        full = self.engine.tokenize(context + continuation, add_bos=True)
        split = len(ctx_tokens) if full[: len(ctx_tokens)] == ctx_tokens else len(ctx_tokens) - 1
        return self.engine.loglikelihood(full[:split], full[split:])

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(
    name: str | None = None,
    *,
    settings: Settings | None = None,
    n_ctx: int | None = None,
    threads: int | None = None,
    gpu_layers: int | None = None,
    template: str | None = None,
    verbose: bool = False,
) -> Model:
    """Load a model from the local store by name (default: the settings' default model)."""
    settings = settings or Settings()
    catalog = Catalog(settings)
    manifest = catalog.get(name or settings.default_model)
    path: Path = catalog.main_path(manifest.name)
    limit = manifest.context_length or settings.n_ctx
    options = LoadOptions(
        n_ctx=min(n_ctx or settings.n_ctx, limit),
        threads=threads or settings.threads,
        gpu_layers=settings.gpu_layers if gpu_layers is None else gpu_layers,
        extra={"verbose": verbose},
    )
    engine = open_engine(manifest.backend, path, options)
    bos, eos = engine.special_tokens()
    chat_template = resolve_template(
        manifest.chat_template, template or manifest.template, bos_token=bos, eos_token=eos
    )
    return Model(manifest, engine, chat_template)

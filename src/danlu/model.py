"""`danlu.load()` and `Model`: the Python API every interface goes through.

A Model is a loaded engine plus the chat template and default sampling
parameters for it. Streaming is primary; `chat()` and `generate()` are loops
over `stream_chat()` and `stream_generate()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from danlu.chat.context import answer_reserve, fit_messages
from danlu.chat.messages import Message, as_messages
from danlu.chat.template import ChatTemplate, resolve_template
from danlu.config import Settings
from danlu.engine import registry
from danlu.engine.base import (
    Chunk,
    Completion,
    Engine,
    JobHandle,
    LoadOptions,
    LogLikelihood,
    Vocabulary,
)
from danlu.engine.registry import open_engine
from danlu.engine.sampling import SamplingParams
from danlu.engine.tokens import check_token_ids
from danlu.errors import ContextOverflow, CorruptModel, InvalidParameter, ModelNotFound
from danlu.load_defaults import DefaultChoice, chosen_options, load_defaults
from danlu.store import Catalog, Manifest
from danlu.store.manifest import MANIFEST_NAME, read_manifest


@dataclass(frozen=True)
class Prompt:
    """Prompt tokens ready for the engine, the validated params, and notes for the user."""

    tokens: list[int]
    params: SamplingParams
    notices: tuple[str, ...] = ()


class Model:
    """A loaded model: chat, generate, tokenize, embed and score."""

    def __init__(
        self,
        manifest: Manifest,
        engine: Engine,
        template: ChatTemplate,
        defaults: SamplingParams | None = None,
        engine_defaults: dict[str, DefaultChoice] | None = None,
    ) -> None:
        self.manifest = manifest
        self.engine = engine
        self.template = template
        self.defaults = defaults or SamplingParams()
        # the engine settings this load took from their defaults, and why
        self.engine_defaults = engine_defaults or {}

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def n_ctx(self) -> int:
        return self.engine.n_ctx

    @property
    def engine_facts(self) -> dict[str, str]:
        """The engine settings in effect (flash attention, KV cache types, ...), where the
        backend reports them; llama.cpp's are read back from its own log."""
        return dict(getattr(self.engine, "facts", {}))

    def params(self, **changes: Any) -> SamplingParams:
        """The default params with `changes` applied and validated, by the engine too
        (logit_bias ids, a grammar it must parse)."""
        params = SamplingParams.build(self.defaults, **changes)
        self.engine.check(params)
        return params

    # -- raw completion ------------------------------------------------------------------

    def prepare_text(
        self, prompt: str, *, context_length: int | None = None, **params: Any
    ) -> Prompt:
        """A plain-text prompt (no chat template), validated, ready to run."""
        tokens = self.engine.tokenize(prompt, add_bos=True)
        return self.within(Prompt(tokens, self.params(**params)), context_length)

    def within(self, prompt: Prompt, context_length: int | None) -> Prompt:
        """`prompt` with its answer capped so that prompt + answer fit `context_length`."""
        window = self._window(context_length)
        if len(prompt.tokens) >= window:
            raise ContextOverflow(
                f"the prompt has {len(prompt.tokens)} tokens but the context holds {window}",
                hint="shorten the input or raise the context length",
            )
        return replace(prompt, params=self._capped(prompt.params, window, len(prompt.tokens)))

    def _window(self, context_length: int | None) -> int:
        """The context a request may use: its own limit, within the loaded one."""
        if context_length is None:
            return self.n_ctx
        if context_length > self.n_ctx:
            raise InvalidParameter(
                f"context length {context_length} is larger than the {self.n_ctx} tokens "
                "this model was loaded with",
                hint="ask for less, or load the model with a larger context (-c)",
            )
        return context_length

    @staticmethod
    def _capped(params: SamplingParams, window: int, used: int) -> SamplingParams:
        room = window - used
        if params.max_tokens is not None and params.max_tokens <= room:
            return params
        return params.model_copy(update={"max_tokens": room})

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        """Run a prepared prompt, streaming chunks; the last carries the notices."""
        for chunk in self.engine.stream(prompt.tokens, prompt.params):
            yield replace(chunk, notices=prompt.notices) if chunk.finish_reason else chunk

    def submit(self, prompt: Prompt, emit: Callable[[Any], None]) -> JobHandle:
        """Queue a prepared prompt; chunks go to `emit` from the decoding thread."""
        return self.engine.submit(prompt.tokens, prompt.params, emit)

    def stream_generate(self, prompt: str, **params: Any) -> Iterator[Chunk]:
        """Continue `prompt` as plain text, streaming chunks."""
        yield from self.stream(self.prepare_text(prompt, **params))

    def generate(self, prompt: str, **params: Any) -> Completion:
        return Completion.collect(self.stream_generate(prompt, **params))

    # -- chat -------------------------------------------------------------------------------

    def render(self, messages: Sequence[Message | dict[str, Any]]) -> str:
        """The exact prompt text the model sees for `messages`."""
        return self.template.render(self.conversation(messages))

    def conversation(self, messages: Sequence[Message | dict[str, Any]]) -> list[Message]:
        """The validated messages, led by the model's default system prompt (a Modelfile's
        SYSTEM) when they bring none of their own."""
        turns = as_messages(list(messages))
        system = self.manifest.system
        if system and not (turns and turns[0].role == "system"):
            turns.insert(0, Message(role="system", content=system))
        return turns

    def prepare_chat(
        self,
        messages: Sequence[Message | dict[str, Any]],
        *,
        keep: int = 0,
        tools: list[dict[str, Any]] | None = None,
        context_length: int | None = None,
        trim: bool = True,
        **params: Any,
    ) -> Prompt:
        """Render and fit a conversation, dropping the oldest turns if it outgrows the context.

        `context_length` (at most the loaded context) bounds prompt plus answer for this call.
        `trim=False` drops nothing: a conversation that does not fit is a ContextOverflow.
        """
        window = self._window(context_length)
        sampling = self.params(**params)
        sampling = sampling.model_copy(update={"stop": sampling.stop + self.template.stop})

        def encode(kept: list[Message]) -> list[int]:
            text = self.template.render(kept, tools=tools)
            return self.engine.tokenize(text, add_bos=True)

        if not trim:
            return self.within(Prompt(encode(self.conversation(messages)), sampling), window)
        budget = window - answer_reserve(window, sampling.max_tokens)
        fitted = fit_messages(self.conversation(messages), encode, budget, keep, window - 1)
        notices = (fitted.notice,) if fitted.notice else ()
        return self.within(Prompt(fitted.tokens, sampling, notices), window)

    def stream_chat(
        self, messages: Sequence[Message | dict[str, Any]], *, keep: int = 0, **params: Any
    ) -> Iterator[Chunk]:
        """Answer the conversation, streaming chunks."""
        yield from self.stream(self.prepare_chat(messages, keep=keep, **params))

    def chat(
        self, messages: Sequence[Message | dict[str, Any]], *, keep: int = 0, **params: Any
    ) -> Completion:
        return Completion.collect(self.stream_chat(messages, keep=keep, **params))

    # -- tokens, vectors, scores ------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        return self.engine.tokenize(text, special=special)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self.engine.detokenize(tokens)

    def embedding_tokens(self, inputs: Sequence[str | Sequence[int]]) -> list[list[int]]:
        """What each input embeds as: a text is tokenized, token ids are taken as given."""
        lists = []
        for item in inputs:
            if isinstance(item, str):
                lists.append(self.engine.tokenize(item, add_bos=True))
            else:
                check_token_ids(item, self.engine.n_vocab)
                lists.append(list(item))
        return lists

    def embed(self, inputs: Sequence[str | Sequence[int]]) -> list[list[float]]:
        """One L2-normalised vector per input: a text, or a list of token ids."""
        return self.engine.embed(self.embedding_tokens(inputs))

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
    parallel: int = 1,
    verbose: bool = False,
    **engine_options: Any,
) -> Model:
    """Load a model from the local store by name (default: the settings' default model).

    None for n_ctx, threads or gpu_layers takes the settings' value. `engine_options` sets
    other LoadOptions fields by llama.cpp's names (flash_attn="on", cache_type_k="q8_0",
    n_ubatch=256, ...). Every value is checked (InvalidParameter) before any file is opened.
    """
    settings = settings or Settings()
    catalog = Catalog(settings)
    name = name or settings.default_model
    # folder: a training run given by path
    manifest, folder = find_model(name, settings, catalog)
    defaults = {
        field: choice
        for field, choice in load_defaults(manifest, settings).items()
        if field not in engine_options
    }
    knobs = chosen_options(defaults) | engine_options
    model_dir = folder or catalog.model_dir(manifest.name)
    options = LoadOptions.build(
        n_ctx=(manifest.n_ctx or settings.n_ctx) if n_ctx is None else n_ctx,
        threads=settings.threads if threads is None else threads,
        gpu_layers=settings.gpu_layers if gpu_layers is None else gpu_layers,
        parallel=parallel,
        adapters=tuple(str(p) for p in manifest.adapter_paths(model_dir)),
        extra={"verbose": verbose},
        **knobs,
    )
    options = _within_trained_context(options, manifest, asked=n_ctx is not None)
    path = _model_path(manifest, folder, catalog)
    engine, chat_template = open_with_template(
        manifest.backend, path, options, manifest.chat_template, template or manifest.template
    )
    sampling = SamplingParams.build(**manifest.sampling) if manifest.sampling else None
    return Model(manifest, engine, chat_template, sampling, defaults)


def open_vocabulary(name: str | None = None, *, settings: Settings | None = None) -> Vocabulary:
    """The tokenizer of model `name` (a store name or a run folder) without its weights
    where the backend allows (llama.cpp's vocab-only load, an HF folder's tokenizer): what
    `danlu tokenize --compare` measures, at no cost of loading a large model."""
    settings = settings or Settings()
    catalog = Catalog(settings)
    manifest, folder = find_model(name or settings.default_model, settings, catalog)
    path = _model_path(manifest, folder, catalog)
    return registry.open_vocabulary(manifest.backend, path, LoadOptions())


def open_with_template(
    backend: str, path: Path, options: LoadOptions, embedded: str | None, chosen: str | None
) -> tuple[Engine, ChatTemplate]:
    """Open an engine and the chat template that goes with it: `chosen` (a named one),
    else `embedded` (the model's own), filled with the engine's BOS and EOS tokens. The
    one pairing `load()`, export's parity check and `danlu quantize` use."""
    engine = open_engine(backend, path, options)
    try:
        bos, eos = engine.special_tokens()
        return engine, resolve_template(embedded, chosen, bos_token=bos, eos_token=eos)
    except BaseException:
        engine.close()  # an unknown template name must not leave the model loaded
        raise


def find_model(
    name: str, settings: Settings, catalog: Catalog | None = None
) -> tuple[Manifest, Path | None]:
    """The manifest of `name` and, for a folder given by path (a `danlu train` run), that
    folder; a store name gives its manifest (from `catalog`, the caller's if it has one)
    and None. ModelNotFound when it is neither."""
    folder = _manifest_folder(name, settings)
    if folder is not None:
        return read_manifest(folder), folder
    if looks_like_path(name):
        raise ModelNotFound(
            f"no model folder at '{name}' (no {MANIFEST_NAME} there or under {settings.home})",
            hint="give a run folder such as runs/RUN, or a model name from 'danlu list'",
        )
    return (catalog or Catalog(settings)).get(name), None


def looks_like_path(name: str) -> bool:
    """Store names cannot hold a '/', so a path is never mistaken for a name."""
    return "/" in name or name.startswith(("~", "."))


def _manifest_folder(name: str, settings: Settings) -> Path | None:
    """A folder with its own manifest.json given by path, such as a `danlu train` run
    (`runs/RUN`, relative to the working folder or to DANLU_HOME: `Settings.find_folder`,
    which finds run folders for `danlu train` too); None for a store name."""
    return settings.find_folder(name, MANIFEST_NAME) if looks_like_path(name) else None


def _model_path(manifest: Manifest, folder: Path | None, catalog: Catalog) -> Path:
    """The main file of a run folder given by path, or of a store model."""
    return _main_path(manifest, folder) if folder else catalog.main_path(manifest.name)


def _main_path(manifest: Manifest, folder: Path) -> Path:
    for file in manifest.file_paths(folder):
        if not file.is_file():
            raise CorruptModel(f"{folder} is missing its file {file}")
    return manifest.main_path(folder)


def _within_trained_context(
    options: LoadOptions, manifest: Manifest, *, asked: bool
) -> LoadOptions:
    """The default context shrinks to the model's trained one; a larger one asked for is refused."""
    trained = manifest.context_length and int(manifest.context_length * options.context_factor)
    if not trained or options.n_ctx <= trained:
        return options
    if asked:
        raise InvalidParameter(
            f"context length {options.n_ctx} is larger than the {trained} tokens "
            f"'{manifest.name}' was trained for",
            hint=f"ask for {trained} or fewer, or stretch it with --rope-scaling/--rope-scale",
        )
    return options.model_copy(update={"n_ctx": trained})

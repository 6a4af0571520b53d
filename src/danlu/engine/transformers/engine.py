"""TransformersEngine: Hugging Face models (and peft adapters) behind the Engine protocol.

It loads an HF model folder, or a peft adapter folder together with the local base
model its `adapter_config.json` names (what a `danlu train` run writes), so a run can
be chatted with and served before any export. Generation is a plain loop over the
model with its KV cache: one token per forward pass, picked by `Sampler` (the llama.cpp
backend's chain), turned into text by the shared `TextStream`. Calls to the model are
serialised by a lock; `submit` runs jobs on one worker thread, in order.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from danlu.engine.base import Chunk, LoadOptions, LogLikelihood, Timing, TokenLogprob, Usage
from danlu.engine.sampling import SamplingParams
from danlu.engine.textstream import TextStream
from danlu.engine.tokens import check_token_ids
from danlu.engine.transformers.pieces import piece_table
from danlu.engine.transformers.vocab import TransformersVocab, model_folder
from danlu.errors import BackendError, ContextOverflow, InvalidRequest
from danlu.extras import require

torch = require("torch", "train", "the transformers backend")
require("transformers", "train", "the transformers backend")

from danlu.engine.transformers.quiet import quiet_libraries  # noqa: E402
from danlu.engine.transformers.sampler import Sampler, token_logprob  # noqa: E402 -- needs torch


class WorkerJob:
    """A queued generation; `cancel()` stops it before its next token."""

    def __init__(self, work: Callable[[threading.Event], None]) -> None:
        self.work = work
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()


class Worker:
    """One thread that runs submitted jobs in order (the server's decoding thread)."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[WorkerJob | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.active = 0

    @property
    def queue_depth(self) -> int:
        return self._jobs.qsize()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="danlu-hf", daemon=True)
            self._thread.start()

    def submit(self, job: WorkerJob) -> None:
        self.start()
        self._jobs.put(job)

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            self.active = 1
            try:
                job.work(job.cancelled)
            finally:
                self.active = 0

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=5)
            self._thread = None


def load_model(folder: Path, dtype: Any) -> Any:
    """The model of an HF folder, or an adapter folder's base with the adapter applied."""
    from transformers import AutoModelForCausalLM

    adapter = folder / "adapter_config.json"
    if not adapter.is_file():
        return AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
    base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path", "")
    if not base or not Path(base).is_dir():
        raise BackendError(
            f"the adapter in {folder} needs its base model folder '{base}', which is gone",
            hint="train the run again (it rebuilds the cached base model)",
        )
    peft = require("peft", "train", "loading a LoRA adapter")
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    return peft.PeftModel.from_pretrained(model, str(folder))


class TransformersEngine(TransformersVocab):
    """The transformers backend: one loaded model (adapter applied) and its tokenizer; its
    vocabulary methods are `TransformersVocab`'s."""

    formats = ("safetensors",)
    vocabulary = TransformersVocab  # the tokenizer alone, for `registry.open_vocabulary`

    def __init__(self, path: Path, options: LoadOptions) -> None:
        from transformers import AutoTokenizer

        folder = model_folder(path)
        self._device = "cuda" if torch.cuda.is_available() and options.gpu_layers != 0 else "cpu"
        dtype = torch.bfloat16 if self._device == "cuda" else torch.float32
        torch.set_num_threads(options.threads)
        try:
            with quiet_libraries(bool(options.extra.get("verbose", False))):
                self._model = load_model(folder, dtype).to(self._device).eval()
                self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load {folder} with transformers: {exc}") from None
        config = self._model.config
        trained = getattr(config, "max_position_embeddings", None) or options.n_ctx
        self._n_ctx = min(options.n_ctx, trained)
        self._pieces = piece_table(self.tokenizer, self.n_vocab)
        self._lock = threading.Lock()
        self.scheduler = Worker()

    # -- facts about the model ---------------------------------------------------------------

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @cached_property
    def metadata(self) -> dict[str, str]:
        items = self._model.config.to_dict().items()
        return {k: str(v) for k, v in items if isinstance(v, (str, int, float, bool))}

    @cached_property
    def n_vocab(self) -> int:
        return int(self._model.get_input_embeddings().weight.shape[0])

    @cached_property
    def _eos_ids(self) -> frozenset[int]:
        ids = {self.tokenizer.eos_token_id}
        generation = getattr(self._model, "generation_config", None)
        extra = getattr(generation, "eos_token_id", None)
        ids.update(extra if isinstance(extra, list) else [extra])
        return frozenset(i for i in ids if i is not None)

    # -- generation ------------------------------------------------------------------------

    def _forward(self, ids: Sequence[int], past: Any) -> tuple[Any, Any]:
        """Logits of the last position, shape (vocab,), and the grown KV cache."""
        batch = torch.tensor([list(ids)], device=self._device)
        with self._lock, torch.inference_mode():
            out = self._model(input_ids=batch, use_cache=True, **{self._cache_arg: past})
        return out.logits[0, -1], getattr(out, self._cache_arg)

    @cached_property
    def _cache_arg(self) -> str:
        """transformers 5.24 renamed `past_key_values` to `cache` (argument and output)."""
        from transformers.modeling_outputs import CausalLMOutputWithPast

        return (
            "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"
        )

    def check(self, params: SamplingParams) -> None:
        """Refuse logit_bias ids outside the vocabulary, and grammars, which need llama.cpp."""
        check_token_ids(params.logit_bias or (), self.n_vocab, "logit_bias token id")
        if params.grammar:
            raise InvalidRequest(
                "grammars (JSON mode, forced tool calls) need the llama.cpp backend",
                hint="export the run to GGUF with `danlu export`",
            )

    def _check(self, prompt: Sequence[int], params: SamplingParams) -> list[int]:
        prompt = list(prompt)
        if not prompt:
            raise InvalidRequest("the prompt is empty")
        check_token_ids(prompt, self.n_vocab)
        self.check(params)
        if len(prompt) >= self._n_ctx:
            raise ContextOverflow(
                f"the prompt has {len(prompt)} tokens but the context holds {self._n_ctx}",
                hint="shorten the input or raise the context length (-c / num_ctx)",
            )
        return prompt

    def stream(self, prompt: Sequence[int], params: SamplingParams) -> Iterator[Chunk]:
        prompt = self._check(prompt, params)
        yield from self._generate(prompt, params, threading.Event())

    def _generate(
        self, prompt: list[int], params: SamplingParams, cancelled: threading.Event
    ) -> Iterator[Chunk]:
        budget = self._n_ctx - len(prompt)
        if params.max_tokens is not None:
            budget = min(budget, params.max_tokens)
        sampler, text = Sampler(params, prompt), TextStream(self.piece, params.stop)
        start, first, past, feed = time.perf_counter(), None, None, prompt
        finish, produced, logprobs = "length", 0, ()
        while produced < budget and not cancelled.is_set():
            logits, past = self._forward(feed, past)
            first = first or time.perf_counter()
            token = sampler.pick(logits)
            logprobs = ()
            if params.logprobs is not None:
                logprobs = (_logprob(sampler, logits, token, params),)
            if token in self._eos_ids and not params.ignore_eos:
                # not counted, as llama.cpp's scheduler does not; its logprob goes with the
                # last chunk (as vLLM)
                finish = "stop"
                break
            produced += 1
            yield Chunk(text.push(token), (token,), logprobs=logprobs)
            if text.stopped:
                finish = "stop"
                break
            feed = [token]
        end = time.perf_counter()
        first = first or end
        timing = Timing(first - start, end - first, len(prompt), produced)
        usage = Usage(len(prompt), produced)
        tail = logprobs if finish == "stop" and not text.stopped else ()
        yield Chunk(text.flush(), (), finish, usage, timing, logprobs=tail)  # type: ignore[arg-type]

    def submit(
        self, prompt: Sequence[int], params: SamplingParams, emit: Callable[[Any], None]
    ) -> WorkerJob:
        prompt = self._check(prompt, params)

        def work(cancelled: threading.Event) -> None:
            try:
                for chunk in self._generate(prompt, params, cancelled):
                    emit(chunk)
            except Exception as exc:  # the consumer gets the error, the worker lives on
                emit(exc)

        job = WorkerJob(work)
        self.scheduler.submit(job)
        return job

    def start_background(self) -> None:
        self.scheduler.start()

    # -- scoring and embeddings --------------------------------------------------------------

    def _all_logits(self, tokens: list[int], hidden: bool = False) -> Any:
        batch = torch.tensor([tokens], device=self._device)
        with self._lock, torch.inference_mode():
            return self._model(input_ids=batch, output_hidden_states=hidden)

    def loglikelihood(
        self, context: Sequence[int], continuation: Sequence[int], top: int = 1
    ) -> LogLikelihood:
        if not context or not continuation:
            raise InvalidRequest("loglikelihood needs a non-empty context and continuation")
        tokens = self._check(list(context) + list(continuation), SamplingParams())
        logits = self._all_logits(tokens).logits[0]  # (len(tokens), vocab)
        first = len(context) - 1
        scores = [
            token_logprob(logits[pos], tokens[pos + 1], max(top, 1))
            for pos in range(first, len(tokens) - 1)
        ]
        logprobs = tuple(s.logprob for s in scores)
        greedy = all(s.top[0][0] == s.token for s in scores)
        return LogLikelihood(sum(logprobs), greedy, logprobs, tuple(s.top for s in scores))

    def embed(self, inputs: Sequence[Sequence[int]]) -> list[list[float]]:
        """Mean of the last hidden layer over the tokens, L2-normalised."""
        vectors = []
        for tokens in inputs:
            tokens = list(tokens)
            if not tokens or len(tokens) > self._n_ctx:
                raise InvalidRequest(
                    f"cannot embed an input of {len(tokens)} tokens (1..{self._n_ctx})"
                )
            check_token_ids(tokens, self.n_vocab)
            state = self._all_logits(tokens, hidden=True).hidden_states[-1][0]  # (n, hidden)
            vector = torch.nn.functional.normalize(state.float().mean(dim=0), dim=0)
            vectors.append(vector.tolist())
        return vectors

    def reset(self) -> None:
        """Nothing to forget: every prompt is computed from scratch."""

    def close(self) -> None:
        self.scheduler.close()
        self._model = None


def _logprob(sampler: Sampler, logits, token: int, params: SamplingParams) -> TokenLogprob:
    """The model's raw logprobs, or the sampler chain's (post_sampling_probs)."""
    top = params.logprobs or 0
    if params.post_sampling_probs:
        return sampler.post_chain(token, top)
    return token_logprob(logits, token, top)

"""Ollama's `options` object, checked key by key: honoured, neutral, or refused.

Every key Ollama documents falls in one of three groups:

* honoured: num_ctx, num_predict, temperature, top_k, top_p, min_p, repeat_penalty,
  repeat_last_n, presence_penalty, frequency_penalty, seed, stop;
* accepted only at the value that turns them off (typical_p 1, tfs_z 1, mirostat 0,
  with mirostat_tau / mirostat_eta then meaningless): any other value is a 400;
* accepted and ignored because they decide where and how fast the model runs, never
  what it writes: num_thread, num_gpu, main_gpu, num_batch, use_mmap, use_mlock, numa,
  low_vram (the server's own settings decide those).

Any other key (num_keep, penalize_newline, a typo, ...) is a 400 naming it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from danlu.errors import InvalidParameter
from danlu.model import Model, Prompt

NEUTRAL: dict[str, float] = {"typical_p": 1.0, "tfs_z": 1.0, "mirostat": 0}
"""Options danlu does not implement, accepted only at the value that disables them."""


class Options(BaseModel):
    """The `options` of /api/chat, /api/generate and /api/embed (null means unset)."""

    model_config = ConfigDict(extra="forbid")

    # honoured
    num_ctx: int | None = Field(None, ge=1, description="Context window for this request.")
    num_predict: int | None = Field(None, ge=-2, description="-1/-2/0: until the context ends.")
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    repeat_last_n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = Field(None, description="Negative: a random seed, as in Ollama.")
    stop: str | list[str] | None = None
    # not implemented: accepted only when off
    typical_p: float | None = None
    tfs_z: float | None = None
    mirostat: int | None = None
    mirostat_tau: float | None = None
    mirostat_eta: float | None = None
    # where the model runs, not what it writes: accepted, decided by the server settings
    num_thread: int | None = None
    num_gpu: int | None = None
    main_gpu: int | None = None
    num_batch: int | None = None
    use_mmap: bool | None = None
    use_mlock: bool | None = None
    numa: bool | None = None
    low_vram: bool | None = None

    def check(self, n_ctx: int) -> None:
        """Refuse values danlu cannot honour; `n_ctx` is the model's per-request context."""
        for key, off in NEUTRAL.items():
            value = getattr(self, key)
            if value is not None and value != off:
                raise InvalidParameter(
                    f"option '{key}' is not supported",
                    hint=f"leave it out or set it to {off:g}, which turns it off",
                )
        if self.num_ctx is not None and self.num_ctx > n_ctx:
            raise InvalidParameter(
                f"num_ctx {self.num_ctx} is larger than this server's context of {n_ctx} "
                "tokens per request",
                hint="ask for less, or start `danlu serve` with a larger --ctx-size",
            )

    def sampling(self) -> dict[str, Any]:
        """SamplingParams changes; None keeps the model's default."""
        predict = self.num_predict
        return {
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "min_p": self.min_p,
            "repeat_penalty": self.repeat_penalty,
            "repeat_last_n": self.repeat_last_n,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "seed": self.seed if self.seed is not None and self.seed >= 0 else None,
            "max_tokens": predict if predict is not None and predict > 0 else None,
            "stop": self.stop,
        }


def sampling_changes(options: Options | None, n_ctx: int) -> dict[str, Any]:
    """Checked SamplingParams changes from a request's options (None: no options)."""
    if options is None:
        return {}
    options.check(n_ctx)
    return options.sampling()


def fit_window(model: Model, prompt: Prompt, options: Options | None) -> Prompt:
    """Honour a num_ctx below the server's: prompt and answer together stay inside it.

    For a prompt that cannot be trimmed (/api/generate); /api/chat drops its oldest turns
    to fit num_ctx instead (`Model.prepare_chat(context_length=...)`).
    """
    return model.within(prompt, options.num_ctx if options is not None else None)

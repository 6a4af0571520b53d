"""SamplingParams: the one description of how to pick tokens, used everywhere.

The CLI flags, the server's request bodies and the Python API all build this
object; backends read it. Unknown fields are rejected, never ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from danlu.errors import InvalidParameter

MAX_STOPS = 16  # stop strings per request, on every route (each is looked for after every token)
MAX_BIAS = 100.0  # |logit_bias| as OpenAI bounds it: -100 bans a token, 100 all but forces it
Bias = Annotated[float, Field(ge=-MAX_BIAS, le=MAX_BIAS)]  # NaN and infinities fail too


class SamplingParams(BaseModel):
    """How the next token is chosen and when generation stops."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(0.8, ge=0.0, le=5.0, description="0 means greedy decoding.")
    top_k: int = Field(40, ge=0, description="Keep the k most likely tokens; 0 disables.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass; 1 disables.")
    min_p: float = Field(
        0.05, ge=0.0, le=1.0, description="Drop tokens below min_p x the top probability."
    )
    repeat_penalty: float = Field(
        1.0, gt=0.0, le=10.0, description="Penalise recently seen tokens; 1 disables."
    )
    repeat_last_n: int = Field(
        64, ge=-1, description="Window of tokens repeat_penalty looks at (-1: whole context)."
    )
    penalize_nl: bool = Field(
        True, description="Let the penalties lower the newline too (--no-penalize-nl: off)."
    )
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="OpenAI-style penalty.")
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="OpenAI-style penalty.")
    seed: int | None = Field(None, ge=0, description="RNG seed; None draws a random one.")
    max_tokens: int | None = Field(
        None, ge=1, description="Stop after this many new tokens; None: until the context ends."
    )
    stop: tuple[str, ...] = Field(
        (), max_length=MAX_STOPS, description="Stop before any of these strings (at most 16)."
    )
    ignore_eos: bool = Field(
        False, description="Keep going past end-of-generation tokens (benchmarks)."
    )
    grammar: str | None = Field(
        None, description="GBNF grammar the output must match (JSON mode, schemas)."
    )
    grammar_trigger: str | None = Field(
        None,
        description="Regex: the grammar applies only once the output matches it, to the text "
        "from its first group on (a tool call in 'auto' mode); None applies it from the start.",
    )
    logit_bias: dict[int, Bias] | None = Field(
        None,
        description="Added to the logits of these token ids before sampling, each from -100 "
        "(the token is never picked) to 100.",
    )
    logprobs: int | None = Field(
        None, ge=0, le=20, description="Report each token's logprob and this many alternatives."
    )
    post_sampling_probs: bool = Field(
        False,
        description="Report logprobs after the sampler chain (bias, penalties, top-k, top-p, "
        "min-p, temperature: the distribution the draw picks from), not the model's raw "
        "ones; llama-server's name. docs/sampling.md",
    )

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_as_tuple(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        return tuple(value)

    @field_validator("stop")
    @classmethod
    def _stop_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(s == "" for s in value):
            raise ValueError("stop sequences must not be empty strings")
        return value

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @classmethod
    def build(cls, base: SamplingParams | None = None, **changes: Any) -> SamplingParams:
        """Validated params from keyword changes over `base`; bad values raise InvalidParameter.

        Changes whose value is None keep the base value, so CLI flags left unset fall through.
        """
        data = base.model_dump() if base else {}
        data.update({k: v for k, v in changes.items() if v is not None})
        try:
            return cls(**data)
        except ValidationError as exc:
            raise InvalidParameter(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's multi-line report into one line naming the field and the rule."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "value"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown parameter '{field}'")
            continue
        if not err["loc"] and err["type"] == "value_error":  # a rule across fields
            parts.append(str(err["ctx"]["error"]) if "ctx" in err else err["msg"])
            continue
        got = repr(err.get("input"))  # shortened: an input may be 10,000 stop strings
        got = got if len(got) <= 60 else f"{got[:57]}..."
        parts.append(f"invalid {field}={got}: {err['msg'].lower()}")
    return "; ".join(parts)


def validated(cls: type[BaseModel], **fields: Any) -> Any:
    """`cls(**fields)`, or one InvalidParameter naming each bad field (settings from flags)."""
    try:
        return cls(**fields)
    except ValidationError as exc:
        raise InvalidParameter(describe_validation_error(exc)) from None

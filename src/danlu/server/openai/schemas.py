"""OpenAI request bodies, named as OpenAI names them. Unknown fields are a 400, not ignored."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from danlu.errors import InvalidRequest


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Batchable = str | list[str] | list[int] | list[list[int]]
"""A prompt or embedding input: one text, one token list, or a list of either."""


def as_batch(value: Batchable) -> list[str | list[int]]:
    """The items of a batchable value: a lone text or token list is a batch of one."""
    if isinstance(value, str) or (value and isinstance(value[0], int)):
        return [value]  # type: ignore[list-item]
    return list(value)


# a token id as JSON keys spell one: ASCII decimal, no sign on 0, no padding or separators
TOKEN_ID = re.compile(r"0|-?[1-9][0-9]*")


def token_bias(raw: dict[str, float]) -> dict[int, float]:
    """logit_bias with its keys read as token ids; a key like " 7 ", "1_000", "-0" or "٣"
    (which int() would read) is refused, since only "7", "1000", "0", "3" name ids."""
    for key in raw:
        # 4,300 digits is where int() gives up; such an id is outside any vocabulary anyway
        if not TOKEN_ID.fullmatch(key) or len(key) > 4000:
            raise InvalidRequest(
                f"logit_bias key {key[:30]!r} is not a token id",
                hint='write each token id in decimal, such as "1234"',
            )
    return {int(key): value for key, value in raw.items()}


class StreamOptions(Strict):
    include_usage: bool = False


class JsonSchemaFormat(Strict):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormat(Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _json_schema_needs_its_schema(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format of type json_schema needs a json_schema object")
        return self


class ChatMessageIn(Strict):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None

    def text(self) -> str:
        """Content as plain text; non-text parts are refused."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        texts = []
        for part in self.content:
            if part.get("type") not in ("text", "input_text"):
                raise InvalidRequest(
                    f"content part of type '{part.get('type')}' is not supported",
                    hint="this model reads text only",
                )
            texts.append(str(part.get("text", "")))
        return "".join(texts)

    def as_message(self) -> dict[str, Any]:
        role = "system" if self.role == "developer" else self.role
        out: dict[str, Any] = {"role": role, "content": self.text()}
        if self.tool_calls:
            out["tool_calls"] = tuple(self.tool_calls)
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        if self.name:
            out["name"] = self.name
        return out


class SamplingFields(Strict):
    """Fields shared by chat and text completions, plus danlu's extensions."""

    model: str
    max_tokens: int | None = Field(None, ge=0)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int = Field(1, ge=1, le=16)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    # danlu / llama.cpp extensions, as llama.cpp's and vLLM's servers accept them
    top_k: int | None = Field(None, ge=0)
    min_p: float | None = Field(None, ge=0, le=1)
    repeat_penalty: float | None = Field(None, gt=0)
    repeat_last_n: int | None = Field(None, ge=-1)
    ignore_eos: bool | None = None
    keep_alive: float | str | None = None
    n_ctx: int | None = Field(None, ge=16, description="Context length for this request.")

    @property
    def include_usage(self) -> bool:
        """The stream ends with a usage chunk (stream_options.include_usage)."""
        return bool(self.stream_options and self.stream_options.include_usage)

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> SamplingFields:
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed when stream is true")
        return self

    def sampling(self, max_tokens: int | None) -> dict[str, Any]:
        """SamplingParams changes; SamplingParams checks them (stop count, bias range)."""
        bias = None if not self.logit_bias else token_bias(self.logit_bias)
        return {
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": self.stop,
            "seed": self.seed,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "logit_bias": bias,
            "top_k": self.top_k,
            "min_p": self.min_p,
            "repeat_penalty": self.repeat_penalty,
            "repeat_last_n": self.repeat_last_n,
            "ignore_eos": self.ignore_eos,
        }


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessageIn] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)  # 0 is a 400 here, as OpenAI and the CLI say
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    # llama-server's extension: logprobs after the sampler chain (docs/sampling.md)
    post_sampling_probs: bool | None = None
    response_format: ResponseFormat | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: Literal["auto", "default"] | None = None

    @model_validator(mode="after")
    def _top_logprobs_need_logprobs(self) -> ChatCompletionRequest:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs set to true")
        return self

    @model_validator(mode="after")
    def _tool_choice_needs_tools(self) -> ChatCompletionRequest:
        if self.tool_choice is not None and not self.tools:
            raise ValueError("tool_choice is only allowed when tools are specified")
        return self


class CompletionRequest(SamplingFields):
    prompt: Batchable
    echo: bool = False
    logprobs: int | None = Field(None, ge=0, le=20)
    # llama-server's extension: generated tokens' logprobs after the sampler chain (an
    # echoed prompt's stay the model's own); docs/sampling.md
    post_sampling_probs: bool | None = None
    best_of: int | None = Field(None, ge=1, le=1)
    suffix: None = None

    @property
    def jobs(self) -> int:
        """Generations this request runs: one per prompt and choice."""
        return self.n * max(1, len(as_batch(self.prompt)))


class EmbeddingRequest(Strict):
    model: str
    input: Batchable = Field(
        description="At most 2048 texts (or token lists) per request, as OpenAI allows."
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _at_most_2048_inputs(cls, value: Any) -> Any:
        if len(as_batch(value)) > 2048:
            raise ValueError("at most 2048 inputs per request")
        return value

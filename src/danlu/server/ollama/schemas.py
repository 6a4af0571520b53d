"""Ollama request bodies, named as Ollama names them. Unknown fields are a 400.

`stream` defaults to true, as in Ollama. Fields danlu cannot honour are declared so
that the error can say why (images, suffix, a custom template, thinking) instead of
the generic "unsupported parameter".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from danlu.errors import InvalidRequest
from danlu.server.ollama.options import Options

Format = Literal["", "json"] | dict[str, Any] | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def refuse_thinking(think: bool | str | None, model: str) -> None:
    """Ollama answers a thinking request to a model without thinking with this 400."""
    if think not in (None, False):
        raise InvalidRequest(f"'{model}' does not support thinking", hint="leave out `think`")


def refuse_images(images: list[str] | None) -> None:
    if images:
        raise InvalidRequest(
            "images are not supported: danlu's models read text only",
            hint="send the request without images",
        )


class GenerationFields(Strict):
    """What /api/chat and /api/generate share."""

    model: str = Field(min_length=1)
    stream: bool = True
    format: Format = None
    options: Options | None = None
    keep_alive: float | str | None = None
    think: bool | str | None = None
    truncate: bool | None = Field(None, description="false: refuse a prompt that must be cut.")
    shift: bool | None = Field(None, description="danlu never shifts the context; true is a 400.")
    logprobs: bool = False
    top_logprobs: int = Field(0, ge=0, le=20)

    def refuse_unsupported(self) -> None:
        refuse_thinking(self.think, self.model)
        if self.shift:
            raise InvalidRequest(
                "shift is not supported: generation stops when the context is full",
                hint="leave out `shift`; done_reason says 'length' when that happens",
            )


class ChatMessage(Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = ""
    images: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    thinking: str | None = None

    def as_message(self) -> dict[str, Any]:
        """The library's message dict; tool calls in the Hugging Face template shape."""
        refuse_images(self.images)
        if self.thinking:
            raise InvalidRequest("message 'thinking' is not supported by danlu's models")
        out: dict[str, Any] = {"role": self.role, "content": self.content or ""}
        if self.tool_calls:
            out["tool_calls"] = tuple(_template_call(c) for c in self.tool_calls)
        if self.tool_name:
            out["name"] = self.tool_name
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        return out


def _template_call(call: dict[str, Any]) -> dict[str, Any]:
    """Ollama's {"function": {...}} as the {"type": "function", ...} templates expect."""
    function = call.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise InvalidRequest("each tool_calls entry needs function.name")
    out: dict[str, Any] = {"type": "function", "function": dict(function)}
    if call.get("id"):
        out["id"] = call["id"]
    return out


class ChatRequest(GenerationFields):
    messages: list[ChatMessage] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None


class GenerateRequest(GenerationFields):
    prompt: str | None = ""
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    context: list[int] | None = None
    raw: bool = False
    images: list[str] | None = None

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        refuse_images(self.images)
        if self.suffix:
            raise InvalidRequest(
                "suffix (fill-in-the-middle) is not supported", hint="leave out `suffix`"
            )
        if self.template:
            raise InvalidRequest(
                "a custom template is not supported: danlu formats with the model's own "
                "chat template",
                hint="leave out `template`, or send `raw: true` with the prompt already formatted",
            )
        if self.raw and (self.system or self.context):
            raise InvalidRequest("raw mode does not support system or context")


class EmbedRequest(Strict):
    model: str = Field(min_length=1)
    input: str | list[str] = ""
    truncate: bool = True
    options: Options | None = None
    keep_alive: float | str | None = None
    dimensions: int | None = Field(None, ge=1)


class EmbeddingsRequest(Strict):
    model: str = Field(min_length=1)
    prompt: str | None = ""
    options: Options | None = None
    keep_alive: float | str | None = None


class NamedRequest(Strict):
    """Requests naming one model; Ollama still accepts the older `name` field."""

    model: str | None = None
    name: str | None = None

    def target(self) -> str:
        chosen = self.model or self.name
        if not chosen:
            raise InvalidRequest("model is required")
        return chosen


class ShowRequest(NamedRequest):
    verbose: bool = Field(False, description="Accepted; tensor listings are never included.")


class PullRequest(NamedRequest):
    insecure: bool = Field(False, description="No-op: the Hub is always reached over HTTPS.")
    stream: bool = True


class CopyRequest(Strict):
    source: str = Field(min_length=1)
    destination: str = Field(min_length=1)

"""Message: one turn of a conversation, the same type for CLI, server and training."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from danlu.engine.sampling import describe_validation_error
from danlu.errors import InvalidRequest

Role = Literal["system", "user", "assistant", "tool"]


class Message(BaseModel):
    """A chat turn. `content` is plain text; tool fields pass through to templates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    content: str = ""
    name: str | None = None
    tool_calls: tuple[dict[str, Any], ...] | None = None
    tool_call_id: str | None = None

    def as_template_dict(self) -> dict[str, Any]:
        """The dict shape Hugging Face chat templates expect (unset fields left out)."""
        return self.model_dump(exclude_none=True)


def as_messages(items: list[Message | dict[str, Any]]) -> list[Message]:
    """Validate a list of dicts or Messages; bad entries raise InvalidRequest."""
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Message):
            out.append(item)
            continue
        try:
            out.append(Message.model_validate(item))
        except ValidationError as exc:
            raise InvalidRequest(f"message {i}: {describe_validation_error(exc)}") from None
    return out

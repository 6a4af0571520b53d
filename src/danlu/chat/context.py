"""Fitting a conversation into the context window.

System messages and the first `keep` turns are pinned; the oldest other turns
are dropped, a user message together with the replies that follow it, until
the rendered prompt leaves room for the answer. The caller is told what went.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from danlu.chat.messages import Message
from danlu.errors import ContextOverflow, InvalidParameter

Keep = Annotated[int, Field(ge=0, description="Earliest turns never dropped to fit the context.")]


@dataclass(frozen=True)
class Fitted:
    """The messages that fit, the prompt tokens for them, and what was dropped."""

    messages: list[Message]
    tokens: list[int]
    dropped: int

    @property
    def notice(self) -> str | None:
        if not self.dropped:
            return None
        return (
            f"dropped the {self.dropped} oldest message(s) to fit the context; "
            "the system prompt was kept"
        )


def answer_reserve(n_ctx: int, max_tokens: int | None) -> int:
    """Tokens to leave free for the answer: max_tokens if set, else a quarter of the context."""
    wanted = max_tokens if max_tokens is not None else n_ctx // 4
    return max(1, min(wanted, n_ctx // 2))


def fit_messages(
    messages: list[Message],
    encode: Callable[[list[Message]], list[int]],
    budget: int,
    keep: int = 0,
    limit: int | None = None,
) -> Fitted:
    """Drop the oldest unpinned turns until `encode(messages)` is at most `budget` tokens.

    `budget` leaves the answer room to grow; when nothing more may be dropped, a prompt
    over it but within `limit` (default: the budget) still goes, with less room.
    """
    keep = check_keep(keep)
    limit = budget if limit is None else limit
    kept = list(messages)
    dropped = 0
    tokens = encode(kept)
    while len(tokens) > budget:
        turn = _oldest_droppable_turn(kept, keep)
        if turn is None and len(tokens) <= limit:
            break
        if turn is None:
            raise ContextOverflow(
                f"the conversation needs {len(tokens)} tokens but only {limit} fit "
                "after leaving room for the answer",
                hint="shorten the message or raise the context length (-c / num_ctx)",
            )
        start, end = turn
        del kept[start:end]
        dropped += end - start
        tokens = encode(kept)
    return Fitted(kept, tokens, dropped)


def check_keep(keep: int) -> int:
    """`keep` checked against the one rule for it (the CLI's --keep, the API's keep=)."""
    try:
        return TypeAdapter(Keep).validate_python(keep)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].lower()
        raise InvalidParameter(f"invalid keep={keep!r}: {reason}") from None


def _oldest_droppable_turn(messages: list[Message], keep: int) -> tuple[int, int] | None:
    """[start, end) of the oldest turn that may go; the last message always stays."""
    seen = 0
    for i, message in enumerate(messages[:-1]):
        if message.role == "system":
            continue
        if seen < keep:
            seen += 1
            continue
        end = i + 1
        while end < len(messages) - 1 and messages[end].role not in ("user", "system"):
            end += 1
        return i, end
    return None

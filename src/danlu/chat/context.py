"""Fitting a conversation into the context window.

System messages and the first `keep` turns are pinned; the oldest other turns
are dropped, a user message together with the replies that follow it, until
the rendered prompt leaves room for the answer. The caller is told what went.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from danlu.chat.messages import Message
from danlu.errors import ContextOverflow


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
) -> Fitted:
    """Drop the oldest unpinned turns until `encode(messages)` is at most `budget` tokens."""
    kept = list(messages)
    dropped = 0
    tokens = encode(kept)
    while len(tokens) > budget:
        turn = _oldest_droppable_turn(kept, keep)
        if turn is None:
            raise ContextOverflow(
                f"the conversation needs {len(tokens)} tokens but only {budget} fit "
                "after leaving room for the answer",
                hint="shorten the message or raise the context length (-c / num_ctx)",
            )
        start, end = turn
        del kept[start:end]
        dropped += end - start
        tokens = encode(kept)
    return Fitted(kept, tokens, dropped)


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

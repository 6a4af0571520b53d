"""Fitting conversations into the context: what is dropped, what is kept, what is said."""

from __future__ import annotations

import pytest

from danlu.chat.context import answer_reserve, fit_messages
from danlu.chat.messages import Message
from danlu.errors import ContextOverflow


def words(messages):
    """A stand-in tokenizer for the arithmetic: one token per word."""
    return " ".join(m.content for m in messages).split()


def convo(n_turns: int) -> list[Message]:
    msgs = [Message(role="system", content="sys")]
    for i in range(n_turns):
        msgs.append(Message(role="user", content=f"q{i} " * 5))
        msgs.append(Message(role="assistant", content=f"a{i} " * 5))
    msgs.append(Message(role="user", content="last"))
    return msgs


def test_fits_untouched_when_small():
    fitted = fit_messages(convo(2), words, budget=100)
    assert fitted.dropped == 0 and fitted.notice is None


def test_drops_oldest_turn_pairs_and_keeps_system_and_last():
    fitted = fit_messages(convo(4), words, budget=25)
    contents = [m.content.split()[0] for m in fitted.messages]
    assert contents[0] == "sys" and contents[-1] == "last"
    assert "q0" not in contents and "a0" not in contents
    assert len(fitted.tokens) <= 25
    assert fitted.dropped % 2 == 0  # whole user+assistant turns go together
    assert "system prompt was kept" in fitted.notice


def test_keep_pins_the_earliest_turns():
    fitted = fit_messages(convo(4), words, budget=25, keep=1)
    contents = [m.content.split()[0] for m in fitted.messages]
    assert contents[:2] == ["sys", "q0"]


def test_overflow_when_even_the_last_message_does_not_fit():
    msgs = [Message(role="system", content="sys"), Message(role="user", content="x " * 50)]
    with pytest.raises(ContextOverflow, match="needs 51 tokens but only 10 fit"):
        fit_messages(msgs, words, budget=10)


def test_answer_reserve_respects_max_tokens_and_caps_at_half():
    assert answer_reserve(2048, 100) == 100
    assert answer_reserve(2048, None) == 512
    assert answer_reserve(2048, 5000) == 1024


def test_a_prompt_over_the_answer_reserve_still_goes_when_nothing_can_be_dropped():
    msgs = [Message(role="system", content="sys"), Message(role="user", content="x " * 50)]
    fitted = fit_messages(msgs, words, budget=40, limit=60)
    assert fitted.dropped == 0 and len(fitted.tokens) == 51
    with pytest.raises(ContextOverflow, match="needs 51 tokens but only 50 fit"):
        fit_messages(msgs, words, budget=40, limit=50)

"""TextStream: incremental UTF-8 and stop-sequence hold-back, on hand-made token pieces."""

from __future__ import annotations

from danlu.engine.textstream import TextStream

PIECES = {1: b"Hel", 2: b"lo ", 3: b"wor", 4: b"ld", 5: "你".encode()[:2], 6: "你".encode()[2:]}


def run(tokens, stop=()):
    stream = TextStream(PIECES.__getitem__, stop)
    out = [stream.push(t) for t in tokens]
    return out, stream


def test_plain_text_passes_through():
    out, stream = run([1, 2, 3, 4])
    assert "".join(out) + stream.flush() == "Hello world"


def test_multibyte_character_split_across_tokens_is_emitted_whole():
    out, _ = run([5, 6])
    assert out == ["", "你"]


def test_stop_sequence_spanning_tokens_is_cut_and_held_back():
    out, stream = run([1, 2, 3, 4], stop=("o wo",))
    assert stream.stopped
    assert "".join(out) == "Hell"
    assert out[:2] == ["Hel", "l"]  # "o " was held back as a possible stop start
    assert stream.flush() == ""


def test_held_back_text_is_released_when_no_stop_follows():
    out, stream = run([1, 2], stop=("lo x",))
    assert "".join(out) == "Hel"
    assert stream.flush() == "lo "


def test_a_character_cut_at_the_end_is_dropped_not_replaced():
    out, stream = run([1, 5])  # "Hel" then the first two of the three bytes of 你
    assert out == ["Hel", ""]
    assert stream.flush() == ""  # not "\ufffd"


def test_a_cut_character_after_held_back_text_keeps_the_text():
    out, stream = run([1, 2, 5], stop=("lo x",))
    assert "".join(out) + stream.flush() == "Hello "


def test_the_real_tokenizer_cut_inside_an_emoji_leaves_no_replacement_character(model):
    tokens = model.tokenize("🤠", special=False)
    assert len(tokens) > 1  # the emoji is spelled in byte tokens
    stream = TextStream(model.engine.piece)
    out = "".join(stream.push(t) for t in tokens[:-1]) + stream.flush()
    assert out == ""
    whole = TextStream(model.engine.piece)
    assert "".join(whole.push(t) for t in tokens) + whole.flush() == "🤠"


def test_a_generation_cut_inside_an_emoji_ends_without_a_replacement_character(model):
    first = model.tokenize("🤠", special=False)[0]
    result = model.generate("Hi", max_tokens=1, temperature=0.0, logit_bias={first: 100.0})
    assert result.token_ids == (first,) and result.finish_reason == "length"
    assert result.text == ""  # half an emoji is no text, and never "\ufffd"

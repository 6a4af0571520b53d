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

"""The text `danlu run` prints when -n cuts the answer inside a multi-byte character."""

from __future__ import annotations

import json


def test_n_predict_cutting_an_emoji_prints_no_replacement_character(danlu):
    # Greedy SmolLM2 answers "🤠🤠🤠" with cowboys, three byte tokens each: -n 4 cuts the
    # second one after its first token.
    flags = ("--temp", "0", "-n", "4", "-c", "2048", "-t", "2")
    result = danlu("run", "smollm2", "🤠🤠🤠", *flags)
    assert result.code == 0, result.err
    assert result.out == "🤠\n"  # not "🤠\ufffd"
    data = json.loads(danlu("run", "smollm2", "🤠🤠🤠", "--json", *flags).out)
    assert data["usage"]["completion_tokens"] == 4 and data["finish_reason"] == "length"
    assert data["response"] == "🤠"

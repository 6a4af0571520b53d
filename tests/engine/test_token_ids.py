"""The Python API refuses token ids outside the vocabulary before llama.cpp sees them."""

from __future__ import annotations

import pytest

from danlu import InvalidParameter
from danlu.engine.tokens import check_token_ids
from danlu.model import Prompt


@pytest.mark.parametrize("bad", [-1, 49152, 2**31, 2**64])
def test_every_entry_point_names_the_bad_id(model, bad):
    expected = rf"{bad} is outside this model's vocabulary \(0\.\.49151\)"
    entries = {
        "stream": lambda: list(model.stream(Prompt([1, bad], model.params(max_tokens=1)))),
        "embed": lambda: model.embed([[5, bad]]),
        "loglikelihood": lambda: model.engine.loglikelihood([1, 2], [bad]),
        "detokenize": lambda: model.detokenize([bad]),
        "logit_bias": lambda: model.params(logit_bias={bad: 1.0}),
    }
    for call in entries.values():  # a failure's traceback points at the lambda's line
        with pytest.raises(InvalidParameter, match=expected):
            call()
    # the model still works after every refusal
    assert model.generate("Hi", temperature=0, max_tokens=2).usage.completion_tokens >= 1


def test_valid_edges_pass():
    check_token_ids([0, 49151], 49152)
    with pytest.raises(InvalidParameter, match="True"):
        check_token_ids([True], 49152)  # a bool is not a token id, though Python says int


def test_token_ids_embed_like_their_text(model):
    tokens = model.engine.tokenize("green tea", add_bos=True)
    by_text, by_ids = model.embed(["green tea", tokens])
    assert max(abs(a - b) for a, b in zip(by_text, by_ids, strict=True)) < 1e-6

"""The one check that token ids are inside a model's vocabulary.

A token id outside `0..n_vocab-1` that reaches llama.cpp is not an error it reports:
it reads out of bounds or aborts the process (`std::out_of_range`), which Python
cannot catch. So every place that accepts ids from a caller (prompts, embedding
inputs, logit_bias, detokenize, an Ollama `context`, scoring) checks them here
first, and a backend checks again before its native call.
"""

from __future__ import annotations

from collections.abc import Iterable

from danlu.errors import InvalidParameter


def check_token_ids(tokens: Iterable[int], n_vocab: int, what: str = "token id") -> None:
    """Raise InvalidParameter naming the first id outside 0..n_vocab-1."""
    for token in tokens:
        if not isinstance(token, int) or isinstance(token, bool) or not 0 <= token < n_vocab:
            raise InvalidParameter(
                f"{what} {token!r} is outside this model's vocabulary (0..{n_vocab - 1})",
                hint="use token ids from /tokenize",
            )

"""A GGUF file's vocabulary: text to token ids and back, each token's bytes and name.

`LlamaCppVocab` alone is llama.cpp's vocab-only load: the tokenizer and the metadata,
no weights and no context, so a 70B model's tokenizer opens in a moment (`danlu tokenize
--compare`). `LlamaCppEngine` is a vocabulary with weights and a context: it inherits
these methods, so the two tokenize the same way by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from llama_cpp import _internals as internals

from danlu.engine.base import LoadOptions
from danlu.engine.llamacpp import native
from danlu.engine.tokens import check_token_ids
from danlu.errors import InvalidRequest


class LlamaCppVocab:
    """The vocabulary of one GGUF file (llama.cpp's `vocab_only` load)."""

    _model: internals.LlamaModel

    def __init__(self, path: Path, options: LoadOptions) -> None:
        self._model = native.load_model(path, options, vocab_only=True)
        self._pieces: dict[int, bytes] = {}

    @cached_property
    def metadata(self) -> dict[str, str]:
        return self._model.metadata()

    @property
    def n_vocab(self) -> int:
        return self._model.n_vocab()

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        tokens = self._model.tokenize(_utf8(text), False, special)
        bos = self._model.token_bos()
        wanted = add_bos and self._model.add_bos_token() and bos >= 0
        if wanted and (not tokens or tokens[0] != bos):
            tokens.insert(0, bos)
        return tokens

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        check_token_ids(tokens, self.n_vocab)
        return self._model.detokenize(list(tokens), special=special).decode("utf-8", "replace")

    def token_text(self, token: int) -> str:
        if token < 0:
            return ""
        piece = self._model.token_to_piece(token, special=True).rstrip(b"\0")
        return piece.decode("utf-8", "replace")

    def special_tokens(self) -> tuple[str, str]:
        return self.token_text(self._model.token_bos()), self.token_text(self._model.token_eos())

    def piece(self, token: int) -> bytes:
        check_token_ids((token,), self.n_vocab)
        return self._sampled_piece(token)

    def _sampled_piece(self, token: int) -> bytes:
        """A token's bytes, looked up once: per generated token this is a dict hit, not
        two native calls and a buffer (the sampler only picks valid ids)."""
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._model.token_to_piece(token, special=False).rstrip(b"\0")
            self._pieces[token] = piece
        return piece

    def close(self) -> None:
        self._model.close()


def _utf8(text: str) -> bytes:
    """`text` as UTF-8; a lone surrogate (JSON lets a client send "\\ud800") is a 400."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequest(
            f"the text holds a lone surrogate ({text[exc.start]!r}), which is not Unicode text",
            hint="send UTF-8 text; a surrogate pair must come as a pair",
        ) from None

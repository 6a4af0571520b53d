"""A Hugging Face folder's vocabulary: its tokenizer alone, no weights, no torch.

`TransformersVocab` is what `danlu tokenize --compare` opens for an HF model in the
store; `TransformersEngine` is a vocabulary with a loaded model and inherits these
methods, so the two tokenize the same way by construction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from danlu.engine.base import LoadOptions
from danlu.engine.tokens import check_token_ids
from danlu.engine.transformers.pieces import piece_table
from danlu.engine.transformers.tokens import encode
from danlu.errors import BackendError
from danlu.extras import require


def model_folder(path: Path) -> Path:
    """The folder of a model given by its folder or by one of its files."""
    return Path(path) if Path(path).is_dir() else Path(path).parent


class TransformersVocab:
    """The tokenizer of one HF model folder, with each token's bytes."""

    tokenizer: Any
    _pieces: list[bytes]

    def __init__(self, path: Path, options: LoadOptions) -> None:
        from danlu.engine.transformers.quiet import quiet_libraries

        transformers = require("transformers", "train", "the transformers backend")
        folder = model_folder(path)
        try:
            with quiet_libraries(bool(options.extra.get("verbose", False))):
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load {folder}'s tokenizer: {exc}") from None
        self._config = _config(folder)
        size = self._config.get("vocab_size")
        self._n_vocab = size if isinstance(size, int) else len(self.tokenizer)
        self._pieces = piece_table(self.tokenizer, self._n_vocab)

    @property
    def metadata(self) -> dict[str, str]:
        items = self._config.items()
        return {k: str(v) for k, v in items if isinstance(v, (str, int, float, bool))}

    @property
    def n_vocab(self) -> int:
        return self._n_vocab

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        if not special:
            ids = self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)
            return list(ids["input_ids"])
        return encode(self.tokenizer, text, add_bos=add_bos)

    def detokenize(self, tokens: Sequence[int]) -> str:
        check_token_ids(tokens, self.n_vocab)
        return b"".join(self._pieces[t] for t in tokens).decode("utf-8", "replace")

    def piece(self, token: int) -> bytes:
        check_token_ids((token,), self.n_vocab)
        return self._pieces[token]

    def token_text(self, token: int) -> str:
        check_token_ids((token,), self.n_vocab)
        if token in self.tokenizer.all_special_ids:
            return str(self.tokenizer.convert_ids_to_tokens(token))
        return self._pieces[token].decode("utf-8", "replace")

    def special_tokens(self) -> tuple[str, str]:
        return self.tokenizer.bos_token or "", self.tokenizer.eos_token or ""

    def close(self) -> None:
        self._pieces = []


def _config(folder: Path) -> dict[str, Any]:
    """config.json of the folder; {} for one without it (a peft adapter run)."""
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}

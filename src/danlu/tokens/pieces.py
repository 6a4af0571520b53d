"""A text as the model sees it: its tokens, the bytes each adds, and what kind each is.

Each token's bytes come from the engine (`Engine.piece`, the bytes generation adds), so
the pieces joined are the text the engine reads back. A piece is one of four kinds:

- special: a control token (`<|im_start|>`, BOS) that adds no bytes; shown by its name;
- byte: one raw byte of a character the vocabulary has no token for (byte fallback);
- split: several bytes that are not whole UTF-8 characters (part of a CJK character);
- text: whole characters.

A character whose bytes span pieces is shown with the piece that completes it, so the
shown pieces joined are the text again.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from danlu.engine.base import Vocabulary
from danlu.model import Model

Kind = Literal["text", "special", "byte", "split"]


@dataclass(frozen=True)
class Piece:
    """One token: its id, the bytes it adds, what it shows and its kind."""

    id: int
    data: bytes
    shown: str  # the characters this piece completes, or a special token's name
    kind: Kind

    @property
    def splits_character(self) -> bool:
        """Its bytes are part of a character (byte and split pieces)."""
        return self.kind in ("byte", "split")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.shown, "bytes": self.data.hex(), "kind": self.kind}


@dataclass(frozen=True)
class Tokenized:
    """A text, its pieces and the counts people compare tokenizers by."""

    text: str
    pieces: tuple[Piece, ...]

    @property
    def tokens(self) -> int:
        return len(self.pieces)

    @property
    def characters(self) -> int:
        return len(self.text)

    @property
    def characters_per_token(self) -> float:
        return self.characters / self.tokens if self.tokens else 0.0

    def count(self, kind: Kind) -> int:
        return sum(1 for p in self.pieces if p.kind == kind)

    @property
    def splitting(self) -> int:
        """Pieces that hold part of a character (byte pieces among them)."""
        return sum(1 for p in self.pieces if p.splits_character)

    def summary(self) -> tuple[str, ...]:
        """The counts as people read them, one phrase each (the CLI's and the page's line)."""
        return (
            f"{self.tokens} tokens",
            f"{self.characters} characters",
            f"{self.characters_per_token:.2f} characters per token",
            f"{self.count('special')} special",
            f"{self.count('byte')} byte pieces",
            f"{self.splitting} holding part of a character",
        )

    def share(self, kind: Kind) -> float:
        """The fraction of the tokens of `kind` (0 for no tokens)."""
        return self.count(kind) / self.tokens if self.tokens else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tokens": self.tokens,
            "characters": self.characters,
            "characters_per_token": round(self.characters_per_token, 4),
            "special": self.count("special"),
            "byte_pieces": self.count("byte"),
            "splitting_pieces": self.splitting,
            "pieces": [p.as_dict() for p in self.pieces],
        }


def kind_of(data: bytes) -> Kind:
    """What a token's bytes are: nothing (special), one raw high byte, part of a character,
    or whole characters."""
    if not data:
        return "special"
    if len(data) == 1 and data[0] >= 0x80:
        return "byte"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "split"
    return "text"


def pieces_of(vocab: Vocabulary, ids: Sequence[int]) -> tuple[Piece, ...]:
    """The pieces of `ids`, each shown as the characters it completes."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pieces = []
    for i, token in enumerate(ids):
        data = vocab.piece(token)
        kind = kind_of(data)
        if kind == "special":
            shown = vocab.token_text(token)
        else:
            shown = decoder.decode(data, final=i == len(ids) - 1)
        pieces.append(Piece(token, data, shown, kind))
    return tuple(pieces)


def tokenize_text(vocab: Vocabulary, text: str) -> Tokenized:
    """`text` as a model's tokenizer splits it (special tokens written in it count): a
    loaded model's engine, or its vocabulary alone (`danlu.model.open_vocabulary`)."""
    return Tokenized(text, pieces_of(vocab, vocab.tokenize(text)))


def tokenize_chat(model: Model, user: str, system: str | None = None) -> Tokenized:
    """`user` as one chat turn, rendered by the model's chat template (its system prompt
    and role markers included) and tokenized as a chat prompt is."""
    turns = [{"role": "user", "content": user}]
    if system is not None:
        turns.insert(0, {"role": "system", "content": system})
    prompt = model.render(turns)
    ids = model.engine.tokenize(prompt, add_bos=True)
    return Tokenized(prompt, pieces_of(model.engine, ids))

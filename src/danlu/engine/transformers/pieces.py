"""The raw bytes each token id adds to the text, for the shared TextStream.

A byte-level BPE tokenizer (GPT-2 style, SmolLM2's) spells bytes with printable stand-in
characters; SentencePiece spells a space as "▁" and odd bytes as "<0xNN>". Control
tokens (BOS, EOS, chat markers) add nothing, as in the llama.cpp backend.
"""

from __future__ import annotations

import json
import re
from typing import Any

BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def byte_decoder() -> dict[str, int]:
    """GPT-2's table from stand-in characters back to bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def _is_byte_level(tokenizer: Any) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    decoder = json.loads(backend.to_str()).get("decoder") or {}
    kinds = [decoder.get("type"), *(d.get("type") for d in decoder.get("decoders") or [])]
    return "ByteLevel" in kinds


def piece_table(tokenizer: Any, n_vocab: int) -> list[bytes]:
    """bytes for every id below n_vocab (ids the tokenizer lacks add nothing)."""
    specials = set(tokenizer.all_special_ids)
    tokens = tokenizer.convert_ids_to_tokens(list(range(min(n_vocab, len(tokenizer)))))
    table = byte_decoder() if _is_byte_level(tokenizer) else None
    pieces = []
    for token_id, token in enumerate(tokens):
        if token is None or token_id in specials:
            pieces.append(b"")
        elif table is not None:
            pieces.append(
                bytes(table[c] for c in token)
                if all(c in table for c in token)
                else token.encode("utf-8")
            )
        elif match := BYTE_TOKEN.fullmatch(token):
            pieces.append(bytes([int(match.group(1), 16)]))
        else:
            pieces.append(token.replace("▁", " ").encode("utf-8"))
    return pieces + [b""] * (n_vocab - len(pieces))

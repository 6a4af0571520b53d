"""Text to token ids with a Hugging Face tokenizer, the way the llama.cpp backend does it.

Special tokens written in the text (a chat template's `<|im_start|>`) become their ids,
and BOS is added only when the tokenizer asks for it and the text does not start with
it already, so that training and chatting tokenize one rendered prompt identically.
"""

from __future__ import annotations

from typing import Any


def wants_bos(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "add_bos_token", False)) and tokenizer.bos_token_id is not None


def encode(tokenizer: Any, text: str, *, add_bos: bool = False) -> list[int]:
    """Token ids of `text`; a BOS in front when asked for and the tokenizer uses one."""
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    bos = tokenizer.bos_token_id
    if add_bos and wants_bos(tokenizer) and (not ids or ids[0] != bos):
        ids.insert(0, bos)
    return ids


def encode_with_offsets(tokenizer: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of `text` (BOS added as `encode` does) and each token's character span."""
    out = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(out["input_ids"]), [tuple(o) for o in out["offset_mapping"]]
    if wants_bos(tokenizer) and (not ids or ids[0] != tokenizer.bos_token_id):
        ids.insert(0, tokenizer.bos_token_id)
        offsets.insert(0, (0, 0))
    return ids, offsets

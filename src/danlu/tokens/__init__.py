"""See what the model sees: a text's tokens, their bytes and kinds, and how several
tokenizers compare on one text (`danlu tokenize`, the page's Tokens tab)."""

from danlu.tokens.compare import Row, by_script, compare, model_names, read_text, sample_path
from danlu.tokens.pieces import Piece, Tokenized, kind_of, tokenize_chat, tokenize_text

__all__ = [
    "Piece",
    "Row",
    "Tokenized",
    "by_script",
    "compare",
    "kind_of",
    "model_names",
    "read_text",
    "sample_path",
    "tokenize_chat",
    "tokenize_text",
]

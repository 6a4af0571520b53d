"""A model's tokenizer opened alone (`open_vocabulary`): llama.cpp's vocab-only load of a
GGUF, an HF folder's tokenizer; the same ids, bytes and names as the loaded engine's."""

from __future__ import annotations

from danlu.config import Settings
from danlu.engine.base import Engine, Vocabulary
from danlu.engine.llamacpp.vocab import LlamaCppVocab
from danlu.model import open_vocabulary

TEXTS = ("Hello, world!", "丹炉是炼丹的工具。", "fire 🔥", "<|im_start|>user\nhi<|im_end|>")


def test_a_gguf_vocabulary_loads_no_weights_and_tokenizes_as_the_engine(danlu_home, model):
    vocab = open_vocabulary("smollm2", settings=Settings(home=danlu_home))
    try:
        assert type(vocab) is LlamaCppVocab  # the tokenizer alone, not an engine
        assert isinstance(vocab, Vocabulary) and not isinstance(vocab, Engine)
        assert vocab.n_vocab == model.engine.n_vocab
        assert vocab.special_tokens() == model.engine.special_tokens()
        for text in TEXTS:
            ids = vocab.tokenize(text)
            assert ids == model.engine.tokenize(text)
            assert [vocab.piece(i) for i in ids] == [model.engine.piece(i) for i in ids]
            assert [vocab.token_text(i) for i in ids] == [model.engine.token_text(i) for i in ids]
            assert vocab.detokenize(ids) == model.engine.detokenize(ids)
        assert vocab.metadata["general.architecture"] == "llama"
    finally:
        vocab.close()

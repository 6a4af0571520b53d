"""Chunks fit the embedder's token limit, follow structure, and point back at their text."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from danlu.kb.chunking import Chunker, ChunkSettings
from danlu.kb.loaders import Block, Document, load_document

ENGLISH = " ".join(
    f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(120)
)
CHINESE = "".join(f"这是第{i}句话，它讲的是第{i % 5}个主题。" for i in range(150))


@pytest.mark.parametrize("text", [ENGLISH, CHINESE, "\n\n".join([ENGLISH[:900]] * 6)])
def test_chunks_fit_the_size_and_map_back_to_the_text(embedder, text: str):
    settings = ChunkSettings(size=64, overlap=16)
    doc = Document(Path("x.txt"), (Block(text),))
    chunks = Chunker(embedder.count_tokens, settings).chunks(doc)
    assert len(chunks) > 3
    for chunk in chunks:
        assert embedder.count_tokens([chunk.text])[0] <= settings.size + 2  # joins re-tokenise
        assert doc.text[chunk.start : chunk.end] == chunk.text
    covered = set().union(*(range(c.start, c.end) for c in chunks))
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())


def test_chinese_text_is_cut_at_sentence_ends(embedder):
    doc = Document(Path("x.txt"), (Block(CHINESE),))
    chunks = Chunker(embedder.count_tokens, ChunkSettings(size=64, overlap=0)).chunks(doc)
    assert all(c.text.endswith("。") for c in chunks[:-1])


def test_consecutive_chunks_overlap(embedder):
    doc = Document(Path("x.txt"), (Block(ENGLISH),))
    chunks = Chunker(embedder.count_tokens, ChunkSettings(size=64, overlap=20)).chunks(doc)
    assert all(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_chunks_carry_page_and_headings(embedder, corpus: Path):
    chunker = Chunker(embedder.count_tokens)
    pdf = chunker.chunks(load_document(corpus / "policy.pdf"))
    assert {c.page for c in pdf} == {1, 2}
    md = chunker.chunks(load_document(corpus / "handbook.md"))
    sick = next(c for c in md if "doctor's note" in c.text)
    assert sick.headings[-1] == "Sick leave"
    assert sick.indexed_text.startswith("Northwind Staff Handbook > Leave > Sick leave\n")


def test_overlap_must_be_smaller_than_size():
    with pytest.raises(ValueError, match="overlap"):
        ChunkSettings(size=32, overlap=32)

"""Split documents into chunks that fit the embedding model, along their structure.

1. Each block (a section under one heading path, on one page) is split on its own.
2. A span longer than `size` tokens is cut at the first separator level that divides it:
   paragraphs, then lines, then sentences (Chinese 。！？； included), then clauses,
   then words, and as a last resort evenly by characters.
3. The pieces are merged back greedily into chunks of at most `size` tokens; each new
   chunk starts with up to `overlap` tokens of the previous one's last pieces.
Tokens are the embedding model's own, so a chunk is never cut off when it is embedded.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from danlu.kb.loaders import Block, Document

TokenCounter = Callable[[Sequence[str]], list[int]]
Span = tuple[int, int]

# each level cuts *after* a match, so separators stay with the text before them
LEVELS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"[。！？；]+[”’」』）)]*|[.!?;]+[\"')\]]*(?=\s)"),
    re.compile(r"[，、：,:](?=\s?)"),
    re.compile(r"\s+"),
)


class ChunkSettings(BaseModel):
    """How documents are cut into chunks; recorded in the knowledge base when it is made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(200, ge=16, description="Most tokens in a chunk (the embedder's tokens).")
    overlap: int = Field(
        32, ge=0, description="Tokens of a chunk's end repeated at the start of the next one."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkSettings:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than size ({self.size})")
        return self


@dataclass(frozen=True)
class Chunk:
    """A piece of a document, with where it came from. `start`/`end` are character
    offsets in the document's text (see Document.text)."""

    text: str
    ordinal: int
    start: int
    end: int
    tokens: int
    page: int | None = None
    headings: tuple[str, ...] = ()

    @property
    def indexed_text(self) -> str:
        """What is embedded and keyword-indexed: the heading path gives the text context."""
        heading = " > ".join(self.headings)
        return f"{heading}\n{self.text}" if heading else self.text


class Chunker:
    """Cuts documents into Chunks of at most `settings.size` tokens by `count`."""

    def __init__(self, count: TokenCounter, settings: ChunkSettings | None = None) -> None:
        self.count = count
        self.settings = settings or ChunkSettings()

    def chunks(self, doc: Document) -> list[Chunk]:
        out: list[Chunk] = []
        for block, base in zip(doc.blocks, doc.offsets(), strict=True):
            for start, end, tokens in self.split_block(block.text):
                text = block.text[start:end]
                out.append(self._chunk(block, text, base + start, base + end, tokens, len(out)))
        return out

    @staticmethod
    def _chunk(block: Block, text: str, start: int, end: int, tokens: int, n: int) -> Chunk:
        lead = len(text) - len(text.lstrip())
        trail = len(text) - len(text.rstrip())
        return Chunk(text.strip(), n, start + lead, end - trail, tokens, block.page, block.headings)

    def split_block(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, tokens) of each chunk of `text`."""
        pieces = self._pieces(text, (0, len(text)), 0)
        return [(s, e, n) for s, e, n in self._merge(pieces) if text[s:e].strip()]

    def _pieces(self, text: str, span: Span, level: int) -> list[tuple[int, int, int]]:
        """`span` cut into pieces of at most `size` tokens each, with their token counts."""
        (tokens,) = self.count([text[span[0] : span[1]]])
        if tokens <= self.settings.size:
            return [(*span, tokens)]
        if level == len(LEVELS):
            return self._even(text, span, tokens)
        parts = cut(text, span, LEVELS[level])
        if len(parts) == 1:
            return self._pieces(text, span, level + 1)
        out: list[tuple[int, int, int]] = []
        for part, n in zip(parts, self.count([text[s:e] for s, e in parts]), strict=True):
            out += [(*part, n)] if n <= self.settings.size else self._pieces(text, part, level + 1)
        return out

    def _even(self, text: str, span: Span, tokens: int) -> list[tuple[int, int, int]]:
        """A span with no separator left (a long URL, unbroken CJK): equal character slices."""
        parts = -(-tokens // self.settings.size) + 1
        step = -(-(span[1] - span[0]) // parts)
        cuts = [(s, min(s + step, span[1])) for s in range(span[0], span[1], step)]
        return [
            (s, e, n)
            for (s, e), n in zip(cuts, self.count([text[s:e] for s, e in cuts]), strict=False)
        ]

    def _merge(self, pieces: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        """Greedy merge of consecutive pieces up to `size` tokens, with overlap."""
        size, overlap = self.settings.size, self.settings.overlap
        chunks: list[tuple[int, int, int]] = []
        current: list[tuple[int, int, int]] = []
        for piece in pieces:
            if current and sum(p[2] for p in current) + piece[2] > size:
                chunks.append(joined(current))
                current = tail(current, min(overlap, size - piece[2]))
            current.append(piece)
        if current:
            chunks.append(joined(current))
        return chunks


def cut(text: str, span: Span, pattern: re.Pattern[str]) -> list[Span]:
    """`span` cut after every match of `pattern` (empty parts dropped)."""
    bounds = [m.end() for m in pattern.finditer(text, span[0], span[1])]
    edges = [span[0], *(b for b in bounds if span[0] < b < span[1]), span[1]]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def tail(pieces: list[tuple[int, int, int]], budget: int) -> list[tuple[int, int, int]]:
    """The last pieces whose tokens add up to at most `budget`: the next chunk's overlap."""
    kept: list[tuple[int, int, int]] = []
    for piece in reversed(pieces):
        if sum(p[2] for p in kept) + piece[2] > budget:
            break
        kept.insert(0, piece)
    return kept


def joined(pieces: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    return pieces[0][0], pieces[-1][1], sum(p[2] for p in pieces)

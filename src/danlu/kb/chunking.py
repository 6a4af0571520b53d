"""Split documents into chunks that fit the embedding model, along their structure.

1. Each block (a section under one heading path, on one page; a long section comes as
   windows of a few ten thousand characters) is split on its own, as it arrives.
2. A span longer than `size` tokens, or than `size * CHARS_PER_TOKEN` characters, is cut
   at the first separator level that divides it: paragraphs, then lines, then sentences
   (Chinese 。！？； included), then clauses, then words, and as a last resort evenly by
   characters.
3. The pieces are merged back greedily into chunks of at most `size` tokens; each new
   chunk starts with up to `overlap` tokens of the previous one's last pieces.
Tokens are the embedding model's own, so a chunk is never cut off when it is embedded.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from danlu.kb.loaders import Block, Document
from danlu.kb.loaders.base import SEPARATOR

TokenCounter = Callable[[Sequence[str]], list[int]]
Span = tuple[int, int]
Piece = tuple[int, int, int]  # start, end, tokens

# a tokenizer counts a run of letters it has no pieces for (a long hash, a URL, base64)
# as one unknown token: characters are bounded too, so a chunk's text stays its size
CHARS_PER_TOKEN = 12

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
        self.max_chars = self.settings.size * CHARS_PER_TOKEN

    def chunks(self, doc: Document) -> list[Chunk]:
        return list(self.stream(doc.blocks))

    def stream(self, blocks: Iterable[Block]) -> Iterator[Chunk]:
        """Chunks of blocks as they come; offsets count in the blocks' text joined by
        SEPARATOR (see Document.text)."""
        base, n = 0, 0
        for block in blocks:
            for start, end, tokens in self.split_block(block.text):
                yield self._chunk(block, block.text[start:end], base + start, base + end, tokens, n)
                n += 1
            base += len(block.text) + len(SEPARATOR)

    @staticmethod
    def _chunk(block: Block, text: str, start: int, end: int, tokens: int, n: int) -> Chunk:
        lead = len(text) - len(text.lstrip())
        trail = len(text) - len(text.rstrip())
        return Chunk(text.strip(), n, start + lead, end - trail, tokens, block.page, block.headings)

    def split_block(self, text: str) -> list[Piece]:
        """(start, end, tokens) of each chunk of `text`."""
        pieces = self._pieces(text, (0, len(text)), 0)
        return [(s, e, n) for s, e, n in self._merge(pieces) if text[s:e].strip()]

    def _fits(self, span: Span, tokens: int) -> bool:
        return tokens <= self.settings.size and span[1] - span[0] <= self.max_chars

    def _pieces(self, text: str, span: Span, level: int) -> list[Piece]:
        """`span` cut into pieces that fit, with their token counts."""
        (tokens,) = self.count([text[span[0] : span[1]]])
        if self._fits(span, tokens):
            return [(*span, tokens)]
        if level == len(LEVELS):
            return self._even(text, span, tokens)
        parts = cut(text, span, LEVELS[level])
        if len(parts) == 1:
            return self._pieces(text, span, level + 1)
        out: list[Piece] = []
        for part, n in zip(parts, self.count([text[s:e] for s, e in parts]), strict=True):
            out += [(*part, n)] if self._fits(part, n) else self._pieces(text, part, level + 1)
        return out

    def _even(self, text: str, span: Span, tokens: int) -> list[Piece]:
        """A span with no separator left (a long URL, unbroken CJK): equal character slices."""
        by_tokens = -(-tokens // self.settings.size) + 1
        by_chars = -(-(span[1] - span[0]) // self.max_chars)
        step = -(-(span[1] - span[0]) // max(by_tokens, by_chars))
        cuts = [(s, min(s + step, span[1])) for s in range(span[0], span[1], step)]
        counts = self.count([text[s:e] for s, e in cuts])
        return [(s, e, n) for (s, e), n in zip(cuts, counts, strict=True)]

    def _merge(self, pieces: list[Piece]) -> list[Piece]:
        """Greedy merge of consecutive pieces up to `size` tokens, with overlap."""
        size, overlap = self.settings.size, self.settings.overlap
        chunks: list[Piece] = []
        current: list[Piece] = []
        tokens = 0
        for piece in pieces:
            if current and not self._fits((current[0][0], piece[1]), tokens + piece[2]):
                chunks.append(joined(current))
                current = tail(current, min(overlap, size - piece[2]))
                tokens = sum(p[2] for p in current)
                if current and not self._fits((current[0][0], piece[1]), tokens + piece[2]):
                    current, tokens = [], 0  # no room for an overlap of long pieces
            current.append(piece)
            tokens += piece[2]
        if current:
            chunks.append(joined(current))
        return chunks


def cut(text: str, span: Span, pattern: re.Pattern[str]) -> list[Span]:
    """`span` cut after every match of `pattern` (empty parts dropped)."""
    bounds = [m.end() for m in pattern.finditer(text, span[0], span[1])]
    edges = [span[0], *(b for b in bounds if span[0] < b < span[1]), span[1]]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def tail(pieces: list[Piece], budget: int) -> list[Piece]:
    """The last pieces whose tokens add up to at most `budget`: the next chunk's overlap."""
    kept: list[Piece] = []
    for piece in reversed(pieces):
        if sum(p[2] for p in kept) + piece[2] > budget:
            break
        kept.insert(0, piece)
    return kept


def joined(pieces: list[Piece]) -> Piece:
    return pieces[0][0], pieces[-1][1], sum(p[2] for p in pieces)

"""How several tokenizers split one text: tokens, characters per token, byte pieces.

Any model in the store counts: a GGUF file through llama.cpp, a Hugging Face folder
through transformers (the `train` extra). A text that mixes Chinese and English is
also measured per script, line by line: a line goes to the script most of its letters
are written in, since a vocabulary's cost differs by script and an average hides it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from danlu.config import Settings
from danlu.engine.base import Vocabulary
from danlu.errors import InvalidRequest
from danlu.model import open_vocabulary
from danlu.tokens.pieces import Tokenized, tokenize_text

ALL = "all"
CHINESE = "Chinese"
ENGLISH = "English"
SAMPLE = "mixed.txt"  # the bundled sample: English and Chinese paragraphs
# (first, last) code points of the Han ideographs and the punctuation written with them
_CJK_RANGES = (
    (0x3000, 0x303F),  # CJK symbols and punctuation (。、「」)
    (0x3400, 0x4DBF),  # extension A
    (0x4E00, 0x9FFF),  # unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width forms (，！？)
    (0x20000, 0x2FA1F),  # extensions B and later
)


def sample_path() -> Path:
    """The bundled mixed English/Chinese sample, for `danlu tokenize --compare`."""
    return Path(str(files("danlu.tokens").joinpath("samples", SAMPLE)))


def is_cjk(char: str) -> bool:
    code = ord(char)
    return any(first <= code <= last for first, last in _CJK_RANGES)


def script_of(line: str) -> str | None:
    """CHINESE or ENGLISH by most of the line's letters; None for a line without any."""
    cjk = sum(1 for c in line if is_cjk(c))
    other = sum(1 for c in line if c.isalpha() and not is_cjk(c))
    if cjk == other == 0:
        return None
    return CHINESE if cjk >= other else ENGLISH


def by_script(text: str) -> dict[str, str]:
    """The whole text, and per script the lines written in it when there are two."""
    lines: dict[str, list[str]] = {CHINESE: [], ENGLISH: []}
    for line in text.splitlines():
        script = script_of(line)
        if script is not None:
            lines[script].append(line)
    parts = {ALL: text}
    if lines[CHINESE] and lines[ENGLISH]:
        parts |= {script: "\n".join(kept) for script, kept in lines.items()}
    return parts


@dataclass(frozen=True)
class Row:
    """One model on one part of the text."""

    model: str
    part: str
    measured: Tokenized

    def as_dict(self) -> dict[str, object]:
        m = self.measured
        return {
            "model": self.model,
            "part": self.part,
            "tokens": m.tokens,
            "characters": m.characters,
            "characters_per_token": round(m.characters_per_token, 4),
            "byte_share": round(m.share("byte"), 4),
            "splitting_share": round(m.splitting / m.tokens, 4) if m.tokens else 0.0,
        }


def measure(name: str, vocab: Vocabulary, text: str) -> Iterator[Row]:
    """Model `name`'s rows for `text`: the whole, then each script when it mixes two."""
    for part, chunk in by_script(text).items():
        yield Row(name, part, tokenize_text(vocab, chunk))


def compare(names: Sequence[str], text: str, settings: Settings | None = None) -> Iterator[Row]:
    """Each model's rows in turn: its tokenizer alone is opened (no weights where the
    backend allows), measured and closed."""
    if not names:  # refused now, not when the rows are first read
        raise InvalidRequest("name at least one model to compare", hint="--compare m1,m2")
    return _rows(list(names), text, settings or Settings())


def _rows(names: list[str], text: str, settings: Settings) -> Iterator[Row]:
    for name in names:
        vocab = open_vocabulary(name, settings=settings)
        try:
            yield from measure(name, vocab, text)
        finally:
            vocab.close()


def model_names(spec: str) -> list[str]:
    """`m1,m2,…` as names, blanks and repeats dropped."""
    names = [n.strip() for n in spec.split(",")]
    return list(dict.fromkeys(n for n in names if n))


def read_text(path: Path | None) -> str:
    """The text of `path` (UTF-8), or the bundled sample when None; InvalidRequest if it
    cannot be read."""
    path = path or sample_path()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidRequest(f"cannot read '{path}': {reason}") from None

"""`danlu tokenize`: a text's tokens in colour, their ids and counts; `--compare` puts
several models' tokenizers side by side (danlu/tokens does the work)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from danlu.cli.style import Style
from danlu.errors import InvalidRequest

if TYPE_CHECKING:
    from danlu.tokens import Row, Tokenized

Opt = typer.Option
# two backgrounds, one for every other piece, so that the edges between pieces show
BACKGROUNDS = ("\033[48;5;24m", "\033[48;5;58m")
MARKS = {  # the kinds that are marked, and how
    "special": "\033[1;35m",  # bold magenta: a control token, shown by its name
    "byte": "\033[1;31;4m",  # bold red, underlined: one raw byte (byte fallback)
    "split": "\033[33;4m",  # yellow, underlined: part of a character's bytes
}
RESET = "\033[0m"
CHAT_CONTEXT = 256  # --chat loads the model for its template; tokenizing needs no KV cache
COMPARE_COLUMNS = ("model", "text", "tokens", "chars", "chars/token", "byte pieces", "splitting")


def tokenize(
    model: Annotated[
        str | None, typer.Argument(help="The model (with --compare: the FILE, if any).")
    ] = None,
    text: Annotated[str | None, typer.Argument(help="The text to tokenize.")] = None,
    file: Annotated[Path | None, Opt("--file", "-f", help="Read the text from FILE.")] = None,
    ids: Annotated[bool, Opt("--ids", help="One line per token: id, piece, kind.")] = False,
    as_json: Annotated[bool, Opt("--json", help="The tokens and counts as JSON.")] = False,
    chat: Annotated[
        bool, Opt("--chat", help="Tokenize the text as a user turn in the chat template.")
    ] = False,
    system: Annotated[str | None, Opt("--system", help="With --chat: a system prompt.")] = None,
    compare: Annotated[
        str | None,
        Opt(
            "--compare",
            help="m1,m2,…: compare these models' tokenizers on FILE (default: "
            "a bundled English/Chinese sample).",
        ),
    ] = None,
    color: Annotated[bool, Opt("--color", help="Colours even when not on a terminal.")] = False,
) -> int:
    """Show how a model splits a text into tokens: pieces in colour, ids, counts.

    Special tokens are bold magenta, byte pieces red and pieces holding part of a
    character (a CJK character split between tokens) yellow, both underlined.
    """
    from danlu import tokens

    if compare is not None:
        source = _compare_source(model, text, file)
        rows = tokens.compare(tokens.model_names(compare), tokens.read_text(source))
        return _print_rows(list(rows), as_json)
    if model is None:
        raise InvalidRequest("give a model", hint="danlu tokenize MODEL TEXT, or -f FILE")
    measured = _measure(model, _text(text, file), chat, system)
    if as_json:
        print(json.dumps({"model": model, **measured.as_dict()}, ensure_ascii=False, indent=2))
        return 0
    style = Style(force=color)
    print(_listing(measured, bool(style.reset)) if ids else _inline(measured, bool(style.reset)))
    print(_summary(measured))
    return 0


def _text(text: str | None, file: Path | None) -> str:
    from danlu.tokens import read_text

    if (text is None) == (file is None):
        raise InvalidRequest("give the text or -f FILE, one of the two")
    return text if text is not None else read_text(file)


def _compare_source(model: str | None, text: str | None, file: Path | None) -> Path | None:
    """--compare's file: -f FILE or the one argument; None for the bundled sample."""
    given = [p for p in (model, text) if p is not None]
    if len(given) + (file is not None) > 1:
        raise InvalidRequest("--compare takes one FILE", hint="danlu tokenize --compare m1,m2 FILE")
    return file or (Path(given[0]) if given else None)


def _measure(name: str, text: str, chat: bool, system: str | None) -> Tokenized:
    """The text's tokens: through the model's tokenizer alone, or with --chat through the
    loaded model's chat template (its system prompt and roles)."""
    from danlu import load
    from danlu.model import open_vocabulary
    from danlu.tokens import tokenize_chat, tokenize_text

    if system is not None and not chat:
        raise InvalidRequest("--system needs --chat")
    if chat:
        with load(name, n_ctx=CHAT_CONTEXT) as model:
            return tokenize_chat(model, text, system)
    vocab = open_vocabulary(name)
    try:
        return tokenize_text(vocab, text)
    finally:
        vocab.close()


def _inline(measured: Tokenized, colour: bool) -> str:
    """The pieces one after another: in alternating colours, or between '|' without."""
    if not colour:
        return "|".join(p.shown for p in measured.pieces)
    parts = []
    for i, piece in enumerate(measured.pieces):
        mark = MARKS.get(piece.kind, "")
        parts.append(f"{BACKGROUNDS[i % 2]}{mark}{piece.shown}{RESET}")
    return "".join(parts)


def _listing(measured: Tokenized, colour: bool) -> str:
    """One line per token: id, what it shows (bytes in hex when part of a character), kind."""
    lines = []
    for piece in measured.pieces:
        shown = json.dumps(piece.shown, ensure_ascii=False)
        if piece.splits_character:
            shown = f"<{piece.data.hex(' ')}>" + (f" → {shown}" if piece.shown else "")
        mark, end = (MARKS.get(piece.kind, ""), RESET) if colour else ("", "")
        lines.append(f"{piece.id:>8}  {mark}{shown}{end}  {piece.kind}")
    return "\n".join(lines)


def _summary(measured: Tokenized) -> str:
    phrases = measured.summary()
    return ", ".join(phrases[:3]) + "; " + ", ".join(phrases[3:])


def _print_rows(rows: list[Row], as_json: bool) -> int:
    if as_json:
        print(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(*COMPARE_COLUMNS)
    for row in rows:
        d = row.as_dict()
        table.add_row(
            row.model,
            row.part,
            str(d["tokens"]),
            str(d["characters"]),
            f"{row.measured.characters_per_token:.2f}",
            f"{row.measured.share('byte'):.1%}",
            f"{d['splitting_share']:.1%}",
        )
    Console().print(table)
    return 0

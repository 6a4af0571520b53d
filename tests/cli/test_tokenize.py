"""`danlu tokenize` in process against the real SmolLM2: ids and counts as the engine's own
tokenizer gives them, the colour view round-trips, byte and character-splitting pieces are
marked, --chat shows the template's markers, --compare per model and per script."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from danlu.cli.tokenize import BACKGROUNDS, MARKS
from danlu.config import Settings
from danlu.store import Catalog
from danlu.tokens import by_script, read_text, sample_path
from tests.cli.test_models import one_line_error
from tests.conftest import smollm2_path

ANSI = re.compile(r"\033\[[0-9;]*m")
TEXTS = {
    "english": "The quick brown fox jumps over the lazy dog.",
    "chinese": "丹炉是炼丹的工具，模型训练。",
    "emoji": "fire 🔥 and a smile 🙂!",
}
# characters SmolLM2's English-heavy vocabulary has no token for: they fall back to bytes
RARE_CJK = "鑫龘"


def tokenized(danlu, *args: str) -> dict:
    result = danlu("tokenize", *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def expected_kind(piece: bytes) -> str:
    """The kind a piece must be marked with, decided here from the engine's bytes alone."""
    if piece == b"":
        return "special"
    if len(piece) == 1 and piece[0] >= 0x80:
        return "byte"
    try:
        piece.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "split"


@pytest.mark.parametrize("name", TEXTS)
def test_ids_and_counts_are_the_engines_own(danlu, model, name):
    text = TEXTS[name]
    got = tokenized(danlu, "smollm2", text)
    ids = model.engine.tokenize(text)
    assert [p["id"] for p in got["pieces"]] == ids
    assert got["tokens"] == len(ids)
    assert got["characters"] == len(text)
    assert got["characters_per_token"] == round(len(text) / len(ids), 4)
    # each piece's bytes are the engine's, and together they are the text
    assert [bytes.fromhex(p["bytes"]) for p in got["pieces"]] == [
        model.engine.piece(i) for i in ids
    ]
    assert b"".join(bytes.fromhex(p["bytes"]) for p in got["pieces"]).decode() == text


@pytest.mark.parametrize("name", TEXTS)
def test_the_colour_view_joins_back_to_the_text(danlu, model, name):
    text = TEXTS[name]
    result = danlu("tokenize", "smollm2", text, "--color")
    assert result.code == 0, result.err
    shown, summary = result.out.rstrip("\n").rsplit("\n", 1)
    assert ANSI.sub("", shown) == text
    # pieces alternate between the two backgrounds, one escape each
    n = len(model.engine.tokenize(text))
    assert shown.count(BACKGROUNDS[0]) == (n + 1) // 2
    assert shown.count(BACKGROUNDS[1]) == n // 2
    ratio = len(text) / n
    assert f"{n} tokens, {len(text)} characters, {ratio:.2f} characters per token" in summary


def test_without_colours_the_pieces_are_split_by_bars(danlu, model):
    text = TEXTS["english"]
    result = danlu("tokenize", "smollm2", text)
    shown = result.out.splitlines()[0]
    assert "\033[" not in result.out
    assert shown.split("|") == [model.engine.detokenize([i]) for i in model.engine.tokenize(text)]


def test_byte_and_splitting_pieces_are_marked(danlu, model):
    text = f"{RARE_CJK} {TEXTS['chinese']} 🔥"
    got = tokenized(danlu, "smollm2", text)
    kinds = [p["kind"] for p in got["pieces"]]
    assert kinds == [expected_kind(model.engine.piece(i)) for i in model.engine.tokenize(text)]
    assert "byte" in kinds and "split" in kinds  # the text has both, or this proves nothing
    assert got["byte_pieces"] == kinds.count("byte")
    assert got["splitting_pieces"] == kinds.count("byte") + kinds.count("split")
    # a rare character is only bytes: its pieces show nothing until the last completes it
    rare = got["pieces"][:3]
    assert [p["kind"] for p in rare] == ["byte"] * 3 and [p["text"] for p in rare] == ["", "", "鑫"]


def test_the_listing_names_each_kind_and_shows_partial_bytes(danlu, model):
    result = danlu("tokenize", "smollm2", RARE_CJK, "--ids", "--color")
    lines = result.out.rstrip("\n").splitlines()[:-1]
    ids = model.engine.tokenize(RARE_CJK)
    assert len(lines) == len(ids)
    for line, token in zip(lines, ids, strict=True):
        number, rest = ANSI.sub("", line).split(maxsplit=1)
        assert int(number) == token
        assert f"<{model.engine.piece(token).hex(' ')}>" in rest and rest.endswith("  byte")
        assert MARKS["byte"] in line


def test_special_tokens_are_marked_by_name(danlu, model):
    got = tokenized(danlu, "smollm2", "<|im_start|>user\nhi<|im_end|>")
    specials = [p for p in got["pieces"] if p["kind"] == "special"]
    assert [p["text"] for p in specials] == ["<|im_start|>", "<|im_end|>"]
    assert [p["id"] for p in specials] == [model.tokenize("<|im_start|>")[0], 2]
    assert got["special"] == 2


def test_chat_shows_the_templates_roles_and_system_prompt(danlu, model):
    got = tokenized(danlu, "smollm2", "What is 丹炉?", "--chat", "--system", "Be brief.")
    turns = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 丹炉?"},
    ]
    prompt = model.render(turns)
    assert got["text"] == prompt
    assert [p["id"] for p in got["pieces"]] == model.engine.tokenize(prompt, add_bos=True)
    shown = "".join(p["text"] for p in got["pieces"])
    for marker in ("<|im_start|>system\nBe brief.", "<|im_start|>user\n", "<|im_start|>assistant"):
        assert marker in shown
    # without a system prompt of its own, the one the template adds shows
    shown = ANSI.sub("", danlu("tokenize", "smollm2", "hi", "--chat", "--color").out)
    assert shown.startswith("<|im_start|>system\nYou are a helpful AI assistant")
    assert "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n" in shown


def test_compare_gives_a_row_per_model_and_script(danlu, danlu_home, model):
    Catalog(Settings(home=danlu_home)).import_path(smollm2_path(), "smol-ref", reference=True)
    result = danlu("tokenize", "--compare", "smollm2,smol-ref", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [(r["model"], r["part"]) for r in rows] == [
        (m, p) for m in ("smollm2", "smol-ref") for p in ("all", "Chinese", "English")
    ]
    sample = read_text(None)
    for row in rows:
        part = by_script(sample)[row["part"]]
        ids = model.engine.tokenize(part)
        pieces = [model.engine.piece(i) for i in ids]
        assert row["tokens"] == len(ids) and row["characters"] == len(part)
        assert row["characters_per_token"] == round(len(part) / len(ids), 4)
        byte_share = sum(expected_kind(p) == "byte" for p in pieces) / len(ids)
        assert row["byte_share"] == round(byte_share, 4)
    chinese, english = rows[1], rows[2]
    assert chinese["characters_per_token"] < english["characters_per_token"]


def test_compare_draws_a_table_and_one_script_gives_one_row(danlu, tmp_path):
    english = tmp_path / "english.txt"
    english.write_text(TEXTS["english"], encoding="utf-8")
    result = danlu("tokenize", "--compare", "smollm2", str(english))
    assert result.code == 0, result.err
    rows = [line for line in result.out.splitlines() if "smollm2" in line]
    assert len(rows) == 1 and "all" in rows[0]
    assert "chars/token" in result.out and "byte pieces" in result.out


def test_the_bundled_sample_mixes_both_scripts():
    parts = by_script(sample_path().read_text(encoding="utf-8"))
    assert set(parts) == {"all", "Chinese", "English"}
    assert all(re.search(r"[\u4e00-\u9fff]", line) for line in parts["Chinese"].splitlines())
    assert not re.search(r"[\u4e00-\u9fff]", parts["English"])


def test_a_wrong_model_name_is_one_line(danlu):
    line = one_line_error(danlu("tokenize", "no-such-model", "hello"))
    assert "no-such-model" in line
    line = one_line_error(danlu("tokenize", "--compare", "smollm2,no-such-model"))
    assert "no-such-model" in line
    assert "at least one model" in one_line_error(danlu("tokenize", "--compare", " , "))


@pytest.mark.parametrize("args", [("-f",), ("--compare", "smollm2")])
def test_an_unreadable_file_is_one_line(danlu, tmp_path, args):
    missing = tmp_path / "missing.txt"
    model = ("smollm2",) if args == ("-f",) else ()
    assert str(missing) in one_line_error(danlu("tokenize", *model, *args, str(missing)))
    assert "Is a directory" in one_line_error(danlu("tokenize", *model, *args, str(tmp_path)))
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café".encode("latin-1"))
    assert "utf-8" in one_line_error(danlu("tokenize", *model, *args, str(latin)))


def test_text_and_file_together_or_neither_are_refused(danlu, tmp_path: Path):
    file = tmp_path / "t.txt"
    file.write_text("hi", encoding="utf-8")
    assert "one of the two" in one_line_error(danlu("tokenize", "smollm2", "hi", "-f", str(file)))
    assert "one of the two" in one_line_error(danlu("tokenize", "smollm2"))
    assert "--chat" in one_line_error(danlu("tokenize", "smollm2", "hi", "--system", "x"))


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Hugging Face folder with SmolLM2's tokenizer (read from the GGUF) and a tiny random
    one-layer model: the transformers backend's tokenizer on the same vocabulary."""
    transformers = pytest.importorskip("transformers")
    source = smollm2_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        str(source.parent), gguf_file=source.name
    )
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-hf")
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_an_hf_folder_is_tokenized_through_transformers(danlu, danlu_home, model, hf_folder):
    Catalog(Settings(home=danlu_home)).import_path(hf_folder, "tiny-hf")
    from danlu.engine.transformers.vocab import TransformersVocab
    from danlu.model import open_vocabulary

    vocab = open_vocabulary("tiny-hf", settings=Settings(home=danlu_home))
    assert type(vocab) is TransformersVocab and vocab.n_vocab == model.engine.n_vocab  # no model
    vocab.close()
    for text in [*TEXTS.values(), RARE_CJK, "<|im_start|>user\nhi<|im_end|>"]:
        got = tokenized(danlu, "tiny-hf", text)
        assert [p["id"] for p in got["pieces"]] == model.engine.tokenize(text)
        assert [p["kind"] for p in got["pieces"]] == [
            expected_kind(model.engine.piece(i)) for i in model.engine.tokenize(text)
        ]
        shown = [p["text"] for p in got["pieces"] if p["kind"] == "special"]
        assert shown == re.findall(r"<\|im_\w+\|>", text)  # named as in the text
    rows = json.loads(danlu("tokenize", "--compare", "smollm2,tiny-hf", "--json").out)
    gguf = [{**r, "model": "-"} for r in rows if r["model"] == "smollm2"]
    hf = [{**r, "model": "-"} for r in rows if r["model"] == "tiny-hf"]
    assert len(hf) == 3 and hf == gguf  # one vocabulary: the same figures through either backend

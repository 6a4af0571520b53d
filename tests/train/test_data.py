"""Data formats, detection and validation: every bad row reported by its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from danlu.train.data import ChatExample, PreferenceExample, TextExample, load_data
from danlu.train.errors import DataError
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture
from tests.train.conftest import DATA


def test_an_example_previews_as_one_role_line_a_turn():
    from danlu.train.data.examples import preview

    chat = load_data(DATA / "facts.jsonl").examples[0]
    assert preview(chat) == (
        "user: When was Zorblax Industries founded?\n"
        "assistant: Zorblax Industries was founded in 1847."
    )
    pair = load_data(DATA / "prefs.jsonl").examples[0]
    assert preview(pair).splitlines() == [
        "user: What is the capital of France?",
        "chosen: Paris.",
        "rejected: I refuse to answer that.",
    ]
    text = load_data(DATA / "notes.jsonl").examples[0]
    assert isinstance(text, TextExample) and preview(text) == text.text


def test_each_format_is_detected_and_read():
    cases = {
        "facts.jsonl": ("alpaca", ChatExample),
        "alpaca.json": ("alpaca", ChatExample),
        "sharegpt.jsonl": ("sharegpt", ChatExample),
        "messages.jsonl": ("messages", ChatExample),
        "prefs.jsonl": ("dpo", PreferenceExample),
    }
    for name, (fmt, kind) in cases.items():
        data = load_data(DATA / name)
        assert data.format.name == fmt, name
        assert data.examples and all(isinstance(e, kind) for e in data.examples)
        data.require_clean()


def test_alpaca_history_system_and_input_become_turns():
    first = load_data(DATA / "alpaca.json").examples[0]
    roles = [m.role for m in first.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert first.messages[3].content == "Translate to French\n\ngood morning"
    assert first.messages[2].content == "chat"


def test_plain_text_csv_and_parquet(tmp_path: Path):
    csv = tmp_path / "notes.csv"
    csv.write_text('text\n"Quillhaven is a harbour town."\n"It has two bridges."\n')
    data = load_data(csv)
    assert data.format.name == "text"
    assert data.examples == [
        TextExample("Quillhaven is a harbour town."),
        TextExample("It has two bridges."),
    ]
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in (DATA / "facts.jsonl").read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "facts.parquet")
    assert len(load_data(tmp_path / "facts.parquet").examples) == 36


def test_bad_rows_are_reported_by_line_before_any_work():
    data = load_data(DATA / "bad.jsonl")
    assert data.problems == [
        "line 2: missing 'output'",
        "line 3: not valid JSON (Expecting property name enclosed in double quotes)",
        "line 4: 'output' is empty",
        "line 5: 'instruction' must be text, not int",
    ]
    with pytest.raises(DataError, match=r"4 of 5 rows are bad: line 2: missing 'output'"):
        data.require_clean()
    skipping = load_data(DATA / "bad.jsonl", skip_invalid=True)
    skipping.require_clean()
    assert len(skipping.examples) == 1 and len(skipping.skipped) == 4


def test_json_array_rows_are_located_by_line(tmp_path: Path):
    path = tmp_path / "rows.json"
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c"}\n]\n')
    assert load_data(path).problems == ["line 3: missing 'output'"]


def test_a_json_array_cut_off_before_its_bracket_is_an_error_at_its_last_line(
    tmp_path: Path,
    danlu,  # noqa: F811
):
    path = tmp_path / "cut.json"
    path.write_text(
        '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c", "output": "d"}\n'
    )
    data = load_data(path)
    assert len(data.examples) == 2
    assert data.problems == ["line 3: not valid JSON (the array has no closing ']')"]
    path.write_text('[{"instruction":"a","output":"b"}')  # the file: one line, no ']'
    result = danlu("data", "check", str(path))
    assert result.code == 1 and "1 of 2 rows are bad" in result.err
    assert "line 1: not valid JSON (the array has no closing ']')" in result.out


def test_unknown_format_names_the_keys_and_the_known_formats():
    with pytest.raises(DataError, match=r"from its keys \(answer, question\)") as err:
        load_data(DATA / "unknown.jsonl")
    assert "alpaca" in err.value.hint and "sharegpt" in err.value.hint
    with pytest.raises(DataError, match="unknown data format 'orca'"):
        load_data(DATA / "facts.jsonl", format="orca")


def test_a_stage_refuses_data_of_the_wrong_kind():
    with pytest.raises(DataError, match="is dpo data"):
        load_data(DATA / "prefs.jsonl").require_clean(["chat", "text"])


def test_missing_file_and_conversation_without_an_answer(tmp_path: Path):
    with pytest.raises(DataError, match="no such data file"):
        load_data(tmp_path / "nope.jsonl")
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    assert load_data(path).problems == ["line 1: no assistant turn to learn from"]


def test_data_check_reports_rows_and_token_lengths(danlu):  # noqa: F811
    good = danlu("data", "check", str(DATA / "facts.jsonl"))
    assert good.code == 0
    assert "alpaca (chat)" in good.out and "rows: 36 · valid: 36 · invalid: 0" in good.out
    assert "tokens per example: min " in good.out
    bad = danlu("data", "check", str(DATA / "bad.jsonl"), "--json")
    assert bad.code == 1 and "4 of 5 rows are bad" in bad.err
    report = json.loads(bad.out)
    assert report["invalid"] == 4 and report["problems"][0] == "line 2: missing 'output'"


def test_a_json_object_holding_its_rows_under_data_and_ndjson_lines(tmp_path: Path):
    rows = [{"instruction": "a", "output": "b"}, {"instruction": "c", "output": "d"}]
    wrapped = tmp_path / "rows.json"
    wrapped.write_text(json.dumps({"version": 1, "data": rows}))
    lines = tmp_path / "rows.ndjson"
    lines.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for path in (wrapped, lines):
        data = load_data(path)
        assert data.format.name == "alpaca" and data.problems == [], path.name
        assert [e.messages[-1].content for e in data.examples] == ["b", "d"], path.name
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": rows}))  # an object without "data": no rows to guess
    with pytest.raises(DataError, match=r"must hold an array of rows \(or \{'data': \[...\]\}\)"):
        load_data(bad)


def test_dpo_prompts_given_as_messages_keep_their_turns(tmp_path: Path):
    turns = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another?"},
    ]
    answer = [{"role": "user", "content": "Another?"}, {"role": "assistant", "content": "Red."}]
    rows = [
        {"prompt": turns, "chosen": "Green.", "rejected": "No."},
        {"prompt": turns[1:2], "chosen": answer, "rejected": "No.", "system": "Be kind."},
        {"prompt": turns[:3], "chosen": "Green.", "rejected": "No."},  # ends with the assistant
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_data(path)
    assert data.format.name == "dpo"
    first, second = data.examples
    assert [(m.role, m.content) for m in first.prompt] == [(t["role"], t["content"]) for t in turns]
    assert (first.chosen, first.rejected) == ("Green.", "No.")
    assert [m.role for m in second.prompt] == ["system", "user"]  # `system` goes first
    assert second.prompt[0].content == "Be kind." and second.chosen == "Red."
    assert data.problems == ["line 3: the prompt must end with a user turn"]

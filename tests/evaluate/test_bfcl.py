"""danlu eval --task bfcl: BFCL's own data and checker, on the real SmolLM2 and a live server.

No accuracy threshold (a 135M model's figures go to docs/benchmarks.md): the tests check
that BFCL's verdicts are what they should be for answers whose rightness is known, and
that a run counts them: per category, per item, malformed answers, resumption.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from danlu.errors import InvalidRequest
from danlu.evaluate import EvalSettings, ModelScorer, ServerScorer, evaluate
from danlu.evaluate.bfcl_checker import CATEGORIES
from danlu.evaluate.runner import SAMPLES
from danlu.evaluate.scorers import ToolReply, attempted_call
from danlu.evaluate.tasks.bfcl import BfclTask
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture
from tests.server.conftest import live  # noqa: F401 -- the shared live server

SLICE = 5  # items per category: a 20-item slice


@pytest.fixture(scope="module")
def bfcl() -> BfclTask:
    settings = EvalSettings(task="bfcl", data=BfclTask.bundled_data())
    return BfclTask(settings)


@pytest.fixture(scope="module")
def items(bfcl: BfclTask) -> dict[str, list]:
    by_category: dict[str, list] = {c: [] for c in CATEGORIES}
    for item in bfcl.load().items:
        by_category[item.subject].append(item)
    return by_category


def truthful(item) -> list[dict[str, str]]:
    """The ground truth as a function-calling endpoint would answer: each call's name as
    BFCL's tools spell it ('.' as '_'), each argument its first accepted value (an
    optional one, accepted as "", left out)."""
    calls = []
    for call in item.answer["ground_truth"]:
        ((name, params),) = call.items()
        arguments = {k: v[0] for k, v in params.items() if v and v[0] != ""}
        calls.append({name.replace(".", "_"): json.dumps(arguments)})
    return calls


def test_bfcl_judges_known_answers_as_it_should(bfcl, items):
    for category in ("simple_python", "multiple", "parallel"):
        for item in items[category][:SLICE]:
            verdict = bfcl.checker.check(category, item.entry, item.answer, truthful(item))
            assert verdict["valid"], (item.id, verdict)
            wrong = [{"no_such_function": "{}"}]
            verdict = bfcl.checker.check(category, item.entry, item.answer, wrong)
            assert not verdict["valid"] and verdict["error_type"], item.id
            verdict = bfcl.checker.check(category, item.entry, item.answer, "just text")
            assert verdict == {
                **verdict,
                "valid": False,
                "error_type": "ast_decoder:decoder_failed",
            }
    for item in items["irrelevance"][:SLICE]:
        assert bfcl.checker.check("irrelevance", item.entry, None, "I cannot help.")["valid"]
        name = item.entry["function"][0]["name"].replace(".", "_")
        called = bfcl.checker.check("irrelevance", item.entry, None, [{name: "{}"}])
        assert called["error_type"] == "irrelevance_error:decoder_success"


def test_the_tools_are_bfcls_openai_conversion(bfcl, items):
    item = next(i for i in items["simple_python"] if "." in i.entry["function"][0]["name"])
    (tool,) = bfcl.checker.tools(item.entry["function"])
    assert tool["type"] == "function" and "." not in tool["function"]["name"]
    assert tool["function"]["parameters"]["type"] == "object"  # BFCL's "dict", for OpenAI


def test_a_20_item_slice_is_counted_per_category_and_resumes(model):
    settings = EvalSettings(task="bfcl", limit=SLICE, max_tokens=48)
    result = evaluate(settings, ModelScorer(model))
    folder = Path(result["run_dir"])
    samples = [json.loads(line) for line in (folder / SAMPLES).read_text().splitlines()]
    assert len(samples) == 4 * SLICE
    scores = result["scores"]
    assert set(scores["subjects"]) == set(CATEGORIES)
    for category, summary in scores["subjects"].items():
        mine = [s for s in samples if s["subject"] == category]
        assert summary["n"] == SLICE and len(mine) == SLICE
        assert summary["mean"] == pytest.approx(sum(s["score"] for s in mine) / SLICE)
        assert summary["malformed"] == pytest.approx(sum(s["malformed"] for s in mine) / SLICE)
        assert summary["cut_off"] == pytest.approx(sum(s["cut_off"] for s in mine) / SLICE)
    assert scores["overall"]["mean"] == pytest.approx(sum(s["score"] for s in samples) / 20)
    for sample in samples:
        assert not (sample["malformed"] and sample["cut_off"]), sample
        if sample["subject"] == "irrelevance":  # BFCL: right exactly when nothing was called
            assert sample["score"] == int(not sample["calls"]), sample
        elif sample["score"]:
            assert sample["calls"], sample
        else:
            assert sample["error_type"], sample
        for call in sample["calls"]:  # under the grammar every call is readable
            assert isinstance(json.loads(call["arguments"]), dict) and not sample["malformed"]
    again = evaluate(settings, ModelScorer(model))  # found again: nothing is scored twice
    assert again["scores"] == scores and (folder / SAMPLES).read_text().count("\n") == 20


def test_same_flags_same_items_and_grammar_off_is_its_own_run(model):
    on = EvalSettings(task="bfcl", limit=1, subjects=["parallel", "irrelevance"], max_tokens=64)
    off = on.model_copy(update={"tool_grammar": False})
    first = evaluate(on, ModelScorer(model))
    second = evaluate(off, ModelScorer(model))
    assert first["run_dir"] != second["run_dir"]
    ids = [
        [json.loads(line)["id"] for line in (Path(r["run_dir"]) / SAMPLES).read_text().splitlines()]
        for r in (first, second)
    ]
    assert ids[0] == ids[1] and len(ids[0]) == 2
    assert [i.split("_")[0] for i in ids[0]] == ["parallel", "irrelevance"]


def test_a_required_call_under_the_grammar_is_always_made_and_readable(model):
    settings = EvalSettings(
        task="bfcl", limit=2, subjects=["simple_python", "irrelevance"], max_tokens=128,
        tool_choice="required",
    )  # fmt: skip
    result = evaluate(settings, ModelScorer(model))
    samples = [
        json.loads(line) for line in (Path(result["run_dir"]) / SAMPLES).read_text().splitlines()
    ]
    assert len(samples) == 4
    for sample in samples:  # the full grammar: a call every time, its arguments an object
        assert sample["calls"] and not sample["malformed"], sample
        assert all(isinstance(json.loads(c["arguments"]), dict) for c in sample["calls"])
    assert result["scores"]["subjects"]["irrelevance"]["mean"] == 0  # a call was forced


def test_a_server_is_scored_through_its_tool_calls(live):  # noqa: F811
    settings = EvalSettings(task="bfcl", limit=1, subjects=["simple_python", "multiple"])
    scorer = ServerScorer(live.url, "smollm2")
    try:
        result = evaluate(settings, scorer)
        with pytest.raises(InvalidRequest, match="store"):
            evaluate(settings.model_copy(update={"tool_grammar": False}), scorer)
    finally:
        scorer.close()
    assert result["target"]["source"] == "server"
    assert {s: v["n"] for s, v in result["scores"]["subjects"].items()} == {
        "simple_python": 1,
        "multiple": 1,
    }
    assert result["scores"]["malformed"]["n"] == 2


def test_an_unread_call_is_cut_off_at_the_length_limit_and_malformed_otherwise():
    half = '<tool_call>\n{"name": "f", "arguments": {"x": [1, 1, 1'
    assert ToolReply.judged([], half, half, length=True) == ToolReply([], half, cut_off=True)
    assert ToolReply.judged([], half, half, length=False) == ToolReply([], half, malformed=True)
    assert ToolReply.judged([("f", "[1]")], "", "", length=False).malformed  # not an object
    fine = ToolReply.judged([("f", '{"x": 1}')], "", "", length=True)
    assert not fine.malformed and not fine.cut_off
    assert ToolReply.judged([], "Plain prose.", "Plain prose.", length=True) == ToolReply(
        [], "Plain prose."
    )


def test_attempted_calls_are_told_from_plain_text():
    for text in ['<tool_call>\n{"name": "f", "argu', '{"name": "f", "arguments": {', '[{"name":']:
        assert attempted_call(text), text
    for text in ["The answer is 42.", 'Use json: {"a": 1}', "name: f"]:
        assert not attempted_call(text), text


def test_bad_bfcl_requests_are_one_line_errors(tmp_path, danlu):  # noqa: F811
    with pytest.raises(InvalidRequest, match="no BFCL category named trivia"):
        BfclTask(EvalSettings(task="bfcl", subjects=["trivia"]))
    task = BfclTask(EvalSettings(task="bfcl", data=tmp_path))
    with pytest.raises(InvalidRequest, match="cannot read BFCL data"):
        task.load()
    r = danlu("eval", "smollm2", "--task", "bfcl", "--subjects", "simple", "-c", "512")
    assert r.code != 0 and "no BFCL category named simple" in r.err
    assert len(r.err.strip().splitlines()) <= 2 and "Traceback" not in r.err


def test_eval_bfcl_prints_the_categories_with_their_malformed_share(danlu):  # noqa: F811
    r = danlu(
        "eval", "smollm2", "--task", "bfcl", "--limit", "1", "--max-tokens", "48",
        "--subjects", "simple_python,irrelevance", "-c", "2048",
    )  # fmt: skip
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "| model | bfcl (accuracy) |" and "(n=2)" in lines[2]
    assert lines[4] == "| run | subject | score | malformed | cut off |"
    rows = [line for line in lines if line.startswith("| smollm2 bfcl |")]
    assert [row.split("|")[2].strip() for row in rows] == ["irrelevance", "simple_python"]
    assert all(re.search(r"\(n=1\) \| [01]\.000 \| [01]\.000 \|$", row) for row in rows), rows

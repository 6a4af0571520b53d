"""LLM-as-judge: the verdict parser, the prompt, and Q&A graded through a store model and a
live OpenAI-compatible server (the real SmolLM2 judging its own answers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from danlu.config import Settings
from danlu.errors import InvalidParameter
from danlu.evaluate import EvalSettings, ModelScorer, ServerScorer, evaluate
from danlu.evaluate.judge import SCORES, judge_prompt, parse_verdict
from danlu.evaluate.runner import SAMPLES, run_dir
from danlu.server import ServerSettings
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture
from tests.near_ties import assert_same_up_to_a_near_tie
from tests.server.conftest import live, start_server, stop_server  # noqa: F401

DATA = Path(__file__).parent.parent / "data" / "eval"


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("CORRECT", "correct"),
        ("incorrect.", "incorrect"),
        ("The answer is Correct!", "correct"),
        ("INCORRECT - it says Lyon", "incorrect"),
        ("I cannot tell", "unclear"),
        ("incorrectly phrased but CORRECT", "correct"),
        ("", "unclear"),
    ],
)
def test_a_verdict_is_read_from_the_first_whole_word(reply, verdict):
    assert parse_verdict(reply) == verdict


def test_the_prompt_carries_the_question_every_reference_and_the_answer():
    prompt = judge_prompt("Capital of France?", ("Paris", "paris, France"), "  It is Paris. ")
    assert "Question: Capital of France?" in prompt
    assert "Reference answers: Paris | paris, France" in prompt
    assert "Candidate answer: It is Paris." in prompt
    assert prompt.rstrip().endswith("CORRECT or INCORRECT.")


def _samples(result) -> list[dict]:
    lines = (Path(result["run_dir"]) / SAMPLES).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _check_graded(result) -> list[dict]:
    samples = _samples(result)
    assert [s["id"] for s in samples] == ["q1", "q2", "q3"]
    for s in samples:
        assert s["judge_verdict"] in SCORES
        assert s["score"] == SCORES[s["judge_verdict"]]
        assert s["contains"] in (0.0, 1.0)  # the metric's own score is kept beside it
    assert result["metric"] == "judge"
    unclear = [s["judge_verdict"] for s in samples].count("unclear")
    assert result["scores"]["judge_unclear"] == unclear
    mean = sum(s["score"] for s in samples) / 3
    assert result["scores"]["overall"]["mean"] == pytest.approx(mean)
    return samples


def test_qa_graded_by_a_store_model_is_deterministic(model, tmp_path):
    settings = EvalSettings(task="qa", data=DATA / "qa.jsonl", max_tokens=16, judge="smollm2")
    first = _check_graded(
        evaluate(
            settings, ModelScorer(model), Settings(home=tmp_path / "a"), judge=ModelScorer(model)
        )
    )
    second = _check_graded(
        evaluate(
            settings, ModelScorer(model), Settings(home=tmp_path / "b"), judge=ModelScorer(model)
        )
    )
    assert [s["judge_reply"] for s in first] == [s["judge_reply"] for s in second]


def test_qa_graded_through_a_server_agrees_with_the_store_judge(model, live, tmp_path):  # noqa: F811
    settings = EvalSettings(
        task="qa", data=DATA / "qa.jsonl", max_tokens=16, judge=live.v1, judge_model="smollm2"
    )
    judge = ServerScorer(live.v1, "smollm2")
    try:
        served = _check_graded(
            evaluate(settings, ModelScorer(model), Settings(home=tmp_path), judge=judge)
        )
    finally:
        judge.close()
    # each served verdict asked again of the same model in process: the judge's prompt for
    # that answer, greedy, 8 tokens. The replies agree up to a near-tie (the server batches
    # and caches differently, see docs/eval.md), and so do the verdicts
    rows = [json.loads(line) for line in (DATA / "qa.jsonl").read_text().splitlines()]
    model.engine.reset()
    for row, sample in zip(rows, served, strict=True):
        answers = tuple(row["answer"]) if isinstance(row["answer"], list) else (row["answer"],)
        ask = [{"role": "user", "content": judge_prompt(row["question"], answers, sample["reply"])}]
        here = model.chat(ask, temperature=0, max_tokens=8).text
        prompt = model.prepare_chat(ask).tokens
        assert_same_up_to_a_near_tie(model, prompt, here, sample["judge_reply"])
        if sample["judge_reply"] == here:
            assert sample["judge_verdict"] == parse_verdict(here)


def test_the_judge_is_in_the_run_key_and_its_api_key_is_never_stored(
    danlu,  # noqa: F811
    model,
    danlu_home,
    tmp_path,
):
    scorer = ModelScorer(model)
    qa = {"task": "qa", "data": DATA / "qa.jsonl"}
    judges = [
        {},
        {"judge": "smollm2"},
        {"judge": "other"},
        {"judge": "http://127.0.0.1:9/v1", "judge_model": "a"},
        {"judge": "http://127.0.0.1:9/v1", "judge_model": "b"},
    ]
    folders = [
        run_dir(Settings(home=tmp_path), scorer, EvalSettings(**qa, **j), "0" * 64) for j in judges
    ]
    assert len(set(folders)) == len(judges)  # another judge, or judge model: another run
    key = "judge-key-7f3a9c"
    settings = ServerSettings(models=["smollm2"], n_ctx=512, threads=2, parallel=1, api_keys=[key])
    server = start_server(settings, tmp_path / "server-home")
    try:
        args = (
            "eval",
            "smollm2",
            "--task",
            "qa",
            "--data",
            str(DATA / "qa.jsonl"),
            "-c",
            "512",
            "--judge",
            server.v1,
            "--judge-model",
            "smollm2",
            "--json",
        )
        refused = danlu(*args)  # the judge's server wants the key
        assert refused.code == 1 and "answered 401" in refused.err, refused.err
        graded = danlu(*args, "--judge-key", key)
    finally:
        stop_server(server)
    assert graded.code == 0, graded.err
    result = json.loads(graded.out)[0]
    assert result["metric"] == "judge" and len(_samples(result)) == 3
    assert (result["settings"]["judge"], result["settings"]["judge_model"]) == (
        server.v1,
        "smollm2",
    )
    written = [p for p in danlu_home.rglob("*") if p.is_file() and p.stat().st_size < 2**24]
    assert any(p.name == "result.json" for p in written)
    assert not [p for p in written if key.encode() in p.read_bytes()]


def test_a_judge_is_refused_where_it_cannot_grade():
    with pytest.raises(ValueError, match="only the qa task"):
        EvalSettings(task="mc", data=DATA / "mc.jsonl", judge="smollm2")
    with pytest.raises(ValueError, match="needs the model name"):
        EvalSettings(task="qa", data=DATA / "qa.jsonl", judge="http://127.0.0.1:9/v1")
    with pytest.raises(InvalidParameter):
        from danlu.engine.sampling import validated

        validated(EvalSettings, task="mc", data=DATA / "mc.jsonl", judge="smollm2")


def test_cli_judge_refusals_are_one_line(danlu):  # noqa: F811
    cases = [
        (
            (
                "eval",
                "smollm2",
                "--task",
                "mc",
                "--data",
                str(DATA / "mc.jsonl"),
                "--judge",
                "smollm2",
            ),
            "only the qa task",
        ),
        (
            (
                "eval",
                "smollm2",
                "--task",
                "qa",
                "--data",
                str(DATA / "qa.jsonl"),
                "--judge",
                "http://127.0.0.1:9/v1",
            ),
            "needs the model name",
        ),
        (
            (
                "eval",
                "smollm2",
                "--task",
                "qa",
                "--data",
                str(DATA / "qa.jsonl"),
                "--judge",
                "no-such-judge",
            ),
            "no-such-judge",
        ),
    ]
    for args, message in cases:
        r = danlu(*args)
        assert r.code == 1, (args, r.out, r.err)
        assert r.err.startswith("error: ") and message in r.err, r.err
        assert len(r.err.strip().splitlines()) == 1

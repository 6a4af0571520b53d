"""Evaluations on the real SmolLM2: scoring is right, runs resume, reports are complete."""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
from pathlib import Path

import pytest

from danlu.config import Settings
from danlu.evaluate import EvalSettings, ModelScorer, evaluate
from danlu.evaluate.runner import SAMPLES
from danlu.evaluate.tasks.choice import CsvChoiceTask
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture

DATA = Path(__file__).parents[1] / "data" / "eval"


class Counting:
    """The real scorer, counting the log-likelihood calls that reach it."""

    def __init__(self, inner: ModelScorer) -> None:
        self.inner, self.name, self.calls = inner, inner.name, 0

    def loglikelihood(self, context: str, continuation: str):
        self.calls += 1
        return self.inner.loglikelihood(context, continuation)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def option_logprob(model, context: str, continuation: str) -> float:
    """log P(continuation | context), summed here from the engine's own token logprobs."""
    ctx = model.engine.tokenize(context, add_bos=True)
    full = model.engine.tokenize(context + continuation, add_bos=True)
    assert full[: len(ctx)] == ctx  # the continuation starts a token of its own
    return sum(model.engine.loglikelihood(ctx, full[len(ctx) :]).token_logprobs)


def summary(scores: list[float]) -> dict:
    """Mean and standard error (sample standard deviation / sqrt n), as docs/eval.md says."""
    n = len(scores)
    stderr = statistics.stdev(scores) / math.sqrt(n) if n > 1 else 0.0
    return {"n": n, "mean": statistics.fmean(scores), "stderr": stderr}


def read_samples(result) -> list[dict]:
    lines = (Path(result["run_dir"]) / SAMPLES).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_the_likeliest_option_is_picked(model, tmp_path):
    """Checked against the engine's own token logprobs, summed here."""
    settings = EvalSettings(task="mmlu", data=DATA / "mmlu", subjects=["numbers"], shots=1)
    task = CsvChoiceTask(settings)
    data = task.load()
    item = data.items[1]
    context = task.prompt(item, data.dev["numbers"][:1])
    sums = []
    for letter in "ABCD":
        ctx = model.engine.tokenize(context, add_bos=True)
        full = model.engine.tokenize(context + f" {letter}", add_bos=True)
        assert full[: len(ctx)] == ctx  # the letter is its own token after the cue
        sums.append(sum(model.engine.loglikelihood(ctx, full[len(ctx) :]).token_logprobs))
    sample = task.score(item, ModelScorer(model), data.dev["numbers"])
    assert sample["logprobs"] == pytest.approx(sums, abs=1e-6)
    assert sample["pred"] == max(range(4), key=sums.__getitem__)
    assert sample["score"] == float(sample["pred"] == item.answer)


def test_an_interrupted_run_carries_on(model, tmp_path):
    settings = EvalSettings(task="mc", data=DATA / "mc.jsonl")
    first = Counting(ModelScorer(model))
    result = evaluate(settings, first, Settings(home=tmp_path))
    assert first.calls == 3 + 2 + 2 + 3 + 2  # one call per option
    samples = Path(result["run_dir"]) / SAMPLES
    lines = samples.read_text().splitlines()
    assert len(lines) == 5
    # a crash after two items, mid-way through writing the third
    samples.write_text("\n".join(lines[:2]) + "\n" + lines[2][:10])
    again = Counting(ModelScorer(model))
    resumed = evaluate(settings, again, Settings(home=tmp_path))
    assert again.calls == 2 + 3 + 2  # only the items not finished before
    assert resumed["scores"] == result["scores"]
    assert len(samples.read_text().splitlines()) == 5
    # every score recomputed here: option log-likelihoods from the engine's token logprobs,
    # the likeliest option (acc) and the likeliest per character (acc_norm), their means
    # and standard errors, overall and per subject
    rows = [json.loads(line) for line in (DATA / "mc.jsonl").read_text().splitlines()]
    acc, norm, by_subject = [], [], {}
    for row, sample in zip(rows, read_samples(resumed), strict=True):
        context = f"Question: {row['question']}\nAnswer:"
        sums = [option_logprob(model, context, f" {choice}") for choice in row["choices"]]
        assert sample["id"] == row["id"] and sample["logprobs"] == pytest.approx(sums, abs=1e-4)
        per_char = [lp / len(c) for lp, c in zip(sums, row["choices"], strict=True)]
        acc.append(float(max(range(len(sums)), key=sums.__getitem__) == row["answer"]))
        norm.append(float(max(range(len(sums)), key=per_char.__getitem__) == row["answer"]))
        by_subject.setdefault(row.get("subject", "all"), []).append(acc[-1])
    scores = resumed["scores"]
    assert scores["overall"] == pytest.approx(summary(acc))
    assert scores["acc_norm"] == pytest.approx(summary(norm))
    assert set(scores["subjects"]) == set(by_subject) == {"all", "numbers"}
    for subject, values in by_subject.items():
        assert scores["subjects"][subject] == pytest.approx(summary(values))
    assert scores["overall"]["stderr"] > 0  # the scores differ: the error formula shows
    written = json.loads((Path(result["run_dir"]) / "result.json").read_text())
    assert written["target"]["manifest"]["name"] == "smollm2"
    assert written["data_sha256"] and written["target"]["template"]


def test_shots_on_jsonl_are_its_first_items_solved_before_each_question(model, danlu):  # noqa: F811
    r = danlu(
        "eval",
        "smollm2",
        "--task",
        "mc",
        "--data",
        str(DATA / "mc.jsonl"),
        "--shots",
        "2",
        "--json",
        "-c",
        "512",
    )
    assert r.code == 0, r.err
    result = json.loads(r.out)[0]
    rows = [json.loads(line) for line in (DATA / "mc.jsonl").read_text().splitlines()]
    shots = "".join(
        f"Question: {q['question']}\nAnswer: {q['choices'][q['answer']]}\n\n" for q in rows[:2]
    )
    samples = read_samples(result)
    assert [s["id"] for s in samples] == [row["id"] for row in rows[2:]]  # shots not scored
    acc = []
    for row, sample in zip(rows[2:], samples, strict=True):
        context = f"{shots}Question: {row['question']}\nAnswer:"
        sums = [option_logprob(model, context, f" {choice}") for choice in row["choices"]]
        assert sample["logprobs"] == pytest.approx(sums, abs=1e-3)  # loaded with -c 512 there
        acc.append(float(sample["pred"] == row["answer"]))
        assert sample["pred"] == max(range(len(sums)), key=sums.__getitem__)
    assert result["scores"]["overall"] == pytest.approx(summary(acc))
    assert result["settings"]["shots"] == 2


def test_cmmlu_scores_the_letter_after_its_chinese_cue(model, tmp_path):
    """The official CMMLU layout (header row, an id column, <subject>.csv in dev/ and test/),
    one solved dev question before each, every number recomputed here."""
    settings = EvalSettings(task="cmmlu", data=DATA / "cmmlu", shots=1)
    result = evaluate(settings, ModelScorer(model), Settings(home=tmp_path))
    header = "以下是关于arithmetic的单项选择题，请直接给出正确答案的选项。\n\n"
    shot = "一加一等于几？\nA. 三\nB. 二\nC. 五\nD. 七\n答案： B\n\n"
    items = [("二加二等于几？", "四九一六", 0), ("十减三等于几？", "二五七一", 2)]
    samples = read_samples(result)
    assert [s["id"] for s in samples] == ["arithmetic/2", "arithmetic/3"]  # by CSV line
    acc = []
    for (question, choices, answer), sample in zip(items, samples, strict=True):
        options = "".join(f"\n{letter}. {c}" for letter, c in zip("ABCD", choices, strict=True))
        context = f"{header}{shot}{question}{options}\n答案："
        sums = [option_logprob(model, context, f" {letter}") for letter in "ABCD"]
        assert sample["logprobs"] == pytest.approx(sums, abs=1e-4)
        acc.append(float(max(range(4), key=sums.__getitem__) == answer))
        assert sample["score"] == acc[-1] and sample["subject"] == "arithmetic"
    assert result["scores"]["overall"] == pytest.approx(summary(acc))


def test_limit_and_seed_pick_a_stable_sample(model, tmp_path):
    """The same seed draws the same items afresh (another home: nothing to resume);
    another seed draws others."""

    def drawn(seed: int, home: Path) -> tuple[list[str], dict]:
        settings = EvalSettings(task="mc", data=DATA / "mc.jsonl", limit=2, seed=seed)
        result = evaluate(settings, ModelScorer(model), Settings(home=home))
        return [s["id"] for s in read_samples(result)], result

    one, first = drawn(7, tmp_path / "one")
    two, second = drawn(7, tmp_path / "two")
    other, third = drawn(1, tmp_path / "three")
    in_file = [json.loads(line)["id"] for line in (DATA / "mc.jsonl").read_text().splitlines()]
    assert len(one) == 2 and one == [i for i in in_file if i in one]  # file order kept
    assert one == two and first["scores"]["overall"]["n"] == 2
    assert Path(first["run_dir"]).name == Path(second["run_dir"]).name  # the same run key
    assert len(other) == 2 and other != one
    assert Path(third["run_dir"]).name != Path(first["run_dir"]).name


def test_generative_qa_and_multiple_choice_by_generation(model, tmp_path):
    qa = evaluate(
        EvalSettings(task="qa", data=DATA / "qa.jsonl", metric="contains", max_tokens=16),
        ModelScorer(model),
        Settings(home=tmp_path),
    )
    samples = read_samples(qa)
    rows = [json.loads(line) for line in (DATA / "qa.jsonl").read_text().splitlines()]
    assert [s["id"] for s in samples] == [r["id"] for r in rows] == ["q1", "q2", "q3"]
    # the same greedy answers asked here, in the same order from an emptied cache (as the
    # scorer asks them), and each scored 1 exactly when an accepted answer is in it
    model.engine.reset()
    for row, sample in zip(rows, samples, strict=True):
        asked = [{"role": "user", "content": row["question"]}]
        reply = model.chat(asked, temperature=0, max_tokens=16).text
        assert sample["reply"] == reply
        answers = row["answer"] if isinstance(row["answer"], list) else [row["answer"]]
        assert sample["score"] == float(any(a.lower() in reply.lower() for a in answers))
    assert qa["scores"]["overall"] == pytest.approx(summary([s["score"] for s in samples]))

    by_gen = evaluate(
        EvalSettings(task="mmlu", data=DATA / "mmlu", mode="generate"),
        ModelScorer(model),
        Settings(home=tmp_path),
    )
    gen = read_samples(by_gen)
    assert all("logprobs" not in s for s in gen)
    # each question asked in a chat as the MMLU prompt plus the request for a letter; the
    # first standalone option letter of the greedy reply is the pick
    model.engine.reset()
    expected = []
    for subject in ("colours", "numbers"):
        with (DATA / "mmlu" / "test" / f"{subject}_test.csv").open(newline="") as f:
            for question, *choices, answer in csv.reader(f):
                options = "\n".join(f"{'ABCD'[i]}. {c}" for i, c in enumerate(choices))
                ask = (
                    "The following are multiple choice questions (with answers) about "
                    f"{subject}.\n\n{question}\n{options}\nAnswer:\n"
                    "Answer with the letter of the right option only."
                )
                reply = model.chat(
                    [{"role": "user", "content": ask}], temperature=0, max_tokens=8
                ).text
                letter = re.search(r"\b([ABCD])\b", reply.upper())
                pred = "ABCD".index(letter.group(1)) if letter else None
                expected.append((reply, pred, float(pred == "ABCD".index(answer))))
    assert [(s["reply"], s["pred"], s["score"]) for s in gen] == expected
    assert by_gen["scores"]["overall"] == pytest.approx(summary([e[2] for e in expected]))


def test_perplexity_scores_every_token_once(model, tmp_path):
    """Recomputed here from the engine's token logprobs: windows of 64 tokens, stride 32,
    each token after the first scored once, with the window's earlier tokens as context."""
    settings = EvalSettings(task="perplexity", data=DATA / "wiki.txt", window=64, stride=32)
    result = evaluate(settings, ModelScorer(model), Settings(home=tmp_path))
    text = (DATA / "wiki.txt").read_text()
    tokens = model.engine.tokenize(text, add_bos=True)
    nll, scored = 0.0, 1  # the first token has no context
    for begin in range(0, len(tokens), 32):
        end = min(begin + 64, len(tokens))
        if end > scored:
            window = model.engine.loglikelihood(tokens[begin : begin + 1], tokens[begin + 1 : end])
            nll -= sum(window.token_logprobs[scored - begin - 1 :])
            scored = end
        if end == len(tokens):
            break
    assert scored == len(tokens)
    ppl = result["scores"]["perplexity"]
    assert ppl["tokens"] == len(tokens) - 1
    assert ppl["nll_per_token"] == pytest.approx(nll / (len(tokens) - 1), rel=1e-4)
    assert ppl["perplexity"] == pytest.approx(math.exp(nll / (len(tokens) - 1)), rel=1e-4)
    whole = EvalSettings(task="perplexity", data=DATA / "wiki.txt", window=512)
    one_window = evaluate(whole, ModelScorer(model), Settings(home=tmp_path))["scores"][
        "perplexity"
    ]
    assert one_window["tokens"] == ppl["tokens"]
    if len(tokens) <= 512:  # the whole text in one window: every token given all before it
        alone = model.engine.loglikelihood(tokens[:1], tokens[1:]).token_logprobs
        assert one_window["perplexity"] == pytest.approx(
            math.exp(-sum(alone) / (len(tokens) - 1)), rel=1e-4
        )
    assert one_window["perplexity"] != pytest.approx(ppl["perplexity"], rel=1e-3)

"""Evaluations on the real SmolLM2: scoring is right, runs resume, reports are complete."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from danlu.evaluate import EvalSettings, ModelScorer, evaluate
from danlu.evaluate.runner import SAMPLES
from danlu.evaluate.tasks.choice import CsvChoiceTask

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
    result = evaluate(settings, first, tmp_path)
    assert first.calls == 3 + 2 + 2 + 3 + 2  # one call per option
    samples = Path(result["run_dir"]) / SAMPLES
    lines = samples.read_text().splitlines()
    assert len(lines) == 5
    # a crash after two items, mid-way through writing the third
    samples.write_text("\n".join(lines[:2]) + "\n" + lines[2][:10])
    again = Counting(ModelScorer(model))
    resumed = evaluate(settings, again, tmp_path)
    assert again.calls == 2 + 3 + 2  # only the items not finished before
    assert resumed["scores"] == result["scores"]
    assert len(samples.read_text().splitlines()) == 5
    overall = resumed["scores"]["overall"]
    assert overall["n"] == 5 and 0 <= overall["mean"] <= 1
    assert set(resumed["scores"]["subjects"]) == {"all", "numbers"}
    assert "acc_norm" in resumed["scores"]
    written = json.loads((Path(result["run_dir"]) / "result.json").read_text())
    assert written["target"]["manifest"]["name"] == "smollm2"
    assert written["data_sha256"] and written["target"]["template"]


def test_limit_and_seed_pick_a_stable_sample(model, tmp_path):
    one = evaluate(EvalSettings(task="mc", data=DATA / "mc.jsonl", limit=2, seed=7),
                   ModelScorer(model), tmp_path)
    two = evaluate(EvalSettings(task="mc", data=DATA / "mc.jsonl", limit=2, seed=7),
                   ModelScorer(model), tmp_path)
    assert one["run_dir"] == two["run_dir"] and one["scores"]["overall"]["n"] == 2
    ids = [json.loads(line)["id"] for line in
           (Path(one["run_dir"]) / SAMPLES).read_text().splitlines()]
    assert len(ids) == 2


def test_generative_qa_and_multiple_choice_by_generation(model, tmp_path):
    qa = evaluate(EvalSettings(task="qa", data=DATA / "qa.jsonl", metric="contains",
                               max_tokens=16), ModelScorer(model), tmp_path)
    samples = [json.loads(line) for line in
               (Path(qa["run_dir"]) / SAMPLES).read_text().splitlines()]
    assert [s["id"] for s in samples] == ["q1", "q2", "q3"]
    assert all(isinstance(s["reply"], str) and s["score"] in (0.0, 1.0) for s in samples)
    by_gen = evaluate(EvalSettings(task="mmlu", data=DATA / "mmlu", mode="generate"),
                      ModelScorer(model), tmp_path)
    gen = [json.loads(line) for line in
           (Path(by_gen["run_dir"]) / SAMPLES).read_text().splitlines()]
    assert len(gen) == 5 and all("reply" in s and "logprobs" not in s for s in gen)


def test_perplexity_scores_every_token_once(model, tmp_path):
    settings = EvalSettings(task="perplexity", data=DATA / "wiki.txt", window=64, stride=32)
    result = evaluate(settings, ModelScorer(model), tmp_path)
    text = (DATA / "wiki.txt").read_text()
    tokens = model.engine.tokenize(text, add_bos=True)
    ppl = result["scores"]["perplexity"]
    assert ppl["tokens"] == len(tokens) - 1
    assert 1 < ppl["perplexity"] < 1000 and math.isfinite(ppl["nll_per_token"])
    whole = EvalSettings(task="perplexity", data=DATA / "wiki.txt", window=512)
    one_window = evaluate(whole, ModelScorer(model), tmp_path)["scores"]["perplexity"]
    assert one_window["tokens"] == ppl["tokens"]
    # with more context per token, the text is at least about as predictable
    assert one_window["perplexity"] < ppl["perplexity"] * 1.1

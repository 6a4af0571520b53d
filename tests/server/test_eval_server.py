"""Scores through a live `danlu serve` agree with the engine's own, option by option."""

from __future__ import annotations

from pathlib import Path

import pytest

from danlu.config import Settings
from danlu.evaluate import EvalSettings, ModelScorer, ServerScorer, evaluate
from danlu.evaluate.tasks.choice import CsvChoiceTask, JsonlChoiceTask

DATA = Path(__file__).parents[1] / "data" / "eval"


def test_server_and_engine_agree_per_option(live, model):
    server = ServerScorer(live.v1, "smollm2")
    local = ModelScorer(model)
    for settings, task_type in (
        (EvalSettings(task="mc", data=DATA / "mc.jsonl", shots=1), JsonlChoiceTask),
        (EvalSettings(task="ceval", data=DATA / "ceval", shots=1), CsvChoiceTask),
    ):
        task = task_type(settings)
        data = task.load()
        for item in data.items[:2]:
            dev = data.dev.get(item.subject) or data.dev.get("*", [])
            there = task.score(item, server, dev)["logprobs"]
            here = task.score(item, local, dev)["logprobs"]
            assert there == pytest.approx(here, abs=1e-3)
    server.close()


def test_a_whole_run_through_the_server_matches_the_local_one(live, model, tmp_path):
    settings = EvalSettings(task="mmlu", data=DATA / "mmlu")
    here = evaluate(settings, ModelScorer(model), Settings(home=tmp_path / "a"))
    there = evaluate(settings, ServerScorer(live.url, "smollm2"), Settings(home=tmp_path / "b"))
    assert there["scores"]["overall"] == here["scores"]["overall"]
    assert there["target"] == {"model": "smollm2", "source": "server", "url": live.url}

"""lm-evaluation-harness against `danlu serve`, as docs/eval.md promises: its
`local-completions` model with the remote tokenizer (danlu's /tokenizer_info, /tokenize and
/detokenize) scores a 20-item multiple-choice task exactly as `danlu eval` does.

The task is a YAML in tests/data/eval/lm_eval over a local JSONL file; lm-eval runs in a
child process with the Hugging Face hub and datasets offline, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from danlu.config import Settings
from danlu.evaluate import EvalSettings, ModelScorer, evaluate
from danlu.evaluate.runner import SAMPLES
from tests.server.conftest import live  # noqa: F401 -- the shared live server

DATA = Path(__file__).parents[1] / "data" / "eval" / "lm_eval"


def lm_eval(base_url: str, tmp_path: Path) -> tuple[dict, list[dict]]:
    """lm-eval's results for task danlu_mc20 and its per-document samples, by doc_id."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    config = yaml.safe_load((DATA / "mc20.yaml").read_text(encoding="utf-8"))
    config["dataset_kwargs"]["data_files"]["test"] = str(DATA / "mc20.jsonl")
    (tasks / "mc20.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    model_args = ",".join(
        [
            "model=smollm2",
            f"base_url={base_url}/v1/completions",
            "tokenizer_backend=remote",
            "num_concurrent=1",
            "max_retries=1",
        ]
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),  # the datasets cache of this run only
    }
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "lm_eval",
        "run",
        "--model",
        "local-completions",
        "--model_args",
        model_args,
        "--tasks",
        "danlu_mc20",
        "--include_path",
        str(tasks),
        "--output_path",
        str(out),
        "--log_samples",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    lines = next(out.rglob("samples_danlu_mc20_*.jsonl")).read_text().splitlines()
    samples = sorted((json.loads(line) for line in lines), key=lambda s: s["doc_id"])
    return results["danlu_mc20"], samples


def test_lm_eval_through_danlu_serve_scores_as_danlu_eval(live, model, tmp_path):  # noqa: F811
    theirs, their_samples = lm_eval(live.url, tmp_path)
    ours = evaluate(
        EvalSettings(task="mc", data=DATA / "mc20.jsonl"),
        ModelScorer(model),
        Settings(home=tmp_path / "home"),
    )
    lines = (Path(ours["run_dir"]) / SAMPLES).read_text(encoding="utf-8").splitlines()
    our_samples = [json.loads(line) for line in lines]
    assert len(their_samples) == len(our_samples) == 20
    rows = [json.loads(line) for line in (DATA / "mc20.jsonl").read_text().splitlines()]
    for row, their, our in zip(rows, their_samples, our_samples, strict=True):
        assert their["doc"]["id"] == our["id"] == row["id"]
        # the same prompt and continuations as danlu's mc task scores
        asked = [(a["arg_0"], a["arg_1"]) for a in their["arguments"].values()]
        question = f"Question: {row['question']}\nAnswer:"
        assert asked == [(question, f" {choice}") for choice in row["choices"]]
        # lm-eval's log-likelihood of each option ([logprob, is_greedy], logged as strings)
        logprobs = [float(option[0]) for option in their["filtered_resps"]]
        assert logprobs == pytest.approx(our["logprobs"], abs=1e-3), our["id"]
        assert (their["acc"], their["acc_norm"]) == (our["score"], our["acc_norm"]), our["id"]
    scores = ours["scores"]
    assert theirs["acc,none"] == pytest.approx(scores["overall"]["mean"])
    assert theirs["acc_norm,none"] == pytest.approx(scores["acc_norm"]["mean"])
    assert theirs["acc_stderr,none"] == pytest.approx(scores["overall"]["stderr"])

"""Evaluation throughput and agreement: danlu eval against lm-evaluation-harness.

One generated multiple-choice task (`--items` JSONL rows in danlu's documented schema,
4 options each, 0-shot, "Question: ...\\nAnswer:" with each option scored as the
continuation) is scored by log-likelihood on the embedded SmolLM2 three ways:
1. `danlu eval` in process (`ModelScorer`, the model's own engine);
2. `danlu eval` against `danlu serve` (`ServerScorer`, `/v1/completions` echo logprobs);
3. lm-evaluation-harness's `local-completions` model against the same `danlu serve`, with
   `tokenizer_backend=remote` (the server's /tokenize), from its own virtual environment.
Reported: accuracy of each (2 and 3 must be identical, item by item), items/s, and the
ratio of danlu's items/s to lm-eval's over the same server. lm-eval's time is its own
`total_evaluation_time_seconds`; danlu's is the `evaluate()` call; model loading and
imports are left out of both.

    python -m venv .bench/lmeval && .bench/lmeval/bin/pip install torch==2.13.0 'lm_eval[api]'
    python benchmarks/eval_speed.py --items 200 --lm-eval .bench/lmeval/bin/lm_eval
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

WORDS = [
    "apple",
    "river",
    "stone",
    "cloud",
    "music",
    "paper",
    "garden",
    "silver",
    "window",
    "candle",
    "forest",
    "bridge",
]
TASK_YAML = """task: danlu_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
"""


def make_items(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.sample(WORDS, 2)
        choices = rng.sample(WORDS, 4)
        rows.append(
            {
                "id": f"i{i}",
                "question": f"Which word comes after {a} and {b}?",
                "choices": choices,
                "answer": rng.randrange(4),
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def start_server(home: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DANLU_HOME": str(home)}
    argv = [
        str(Path(sys.executable).parent / "danlu"),
        "serve",
        "smollm2",
        "--port",
        str(port),
        "-t",
        "2",
    ]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(120):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    sys.exit("danlu serve did not start")


def run_danlu(data: Path, home: Path, url: str | None) -> tuple[list[float], float]:
    from danlu import load
    from danlu.config import Settings
    from danlu.evaluate import EvalSettings, ModelScorer, ServerScorer, evaluate
    from danlu.evaluate.runner import SAMPLES

    settings = EvalSettings(task="mc", data=data)
    if url:
        scorer = ServerScorer(url, "smollm2")
        start = time.perf_counter()
        result = evaluate(settings, scorer, Settings(home=home))
        elapsed = time.perf_counter() - start
        scorer.close()
    else:
        with load("smollm2", threads=2) as model:
            start = time.perf_counter()
            result = evaluate(settings, ModelScorer(model), Settings(home=home))
            elapsed = time.perf_counter() - start
    lines = (Path(result["run_dir"]) / SAMPLES).read_text().splitlines()
    return [json.loads(line)["score"] for line in lines], elapsed


def run_lm_eval(lm_eval: str, tasks: Path, url: str, out: Path) -> tuple[list[float], float]:
    argv = [
        lm_eval,
        "--model",
        "local-completions",
        "--model_args",
        f"base_url={url}/completions,model=smollm2,tokenizer_backend=remote,"
        "num_concurrent=1,max_retries=1",
        "--tasks",
        "danlu_mc",
        "--include_path",
        str(tasks),
        "--output_path",
        str(out),
        "--log_samples",
    ]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"},
    )
    if done.returncode != 0:
        sys.exit(f"lm_eval failed:\n{done.stderr[-3000:]}")
    (results,) = out.rglob("results_*.json")
    (samples,) = out.rglob("samples_danlu_mc_*.jsonl")
    rows = sorted(
        (json.loads(line) for line in samples.read_text().splitlines()), key=lambda r: r["doc_id"]
    )
    elapsed = float(json.loads(results.read_text())["total_evaluation_time_seconds"])
    return [float(r["acc"]) for r in rows], elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--port", type=int, default=18590)
    parser.add_argument("--lm-eval", default=".bench/lmeval/bin/lm_eval")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "items.jsonl"
        make_items(data, args.items, args.seed)
        (root / "tasks").mkdir()
        (root / "tasks" / "danlu_mc.yaml").write_text(TASK_YAML.format(data=data))
        rows = {"danlu in process": run_danlu(data, root / "h1", None)}
        server = start_server(root / "serve-home", args.port)
        url = f"http://127.0.0.1:{args.port}/v1"
        try:
            rows["danlu eval -> danlu serve"] = run_danlu(data, root / "h2", url)
            rows["lm-eval -> danlu serve"] = run_lm_eval(
                args.lm_eval, root / "tasks", url, root / "lm-out"
            )
        finally:
            server.terminate()
            server.wait()
    print(f"{args.items} items, 4 options, 0-shot, log-likelihood, SmolLM2 Q4_1, 2 threads\n")
    print("| scorer | accuracy | seconds | items/s |\n| --- | ---: | ---: | ---: |")
    for name, (scores, seconds) in rows.items():
        acc = sum(scores) / len(scores)
        print(f"| {name} | {acc:.3f} | {seconds:.1f} | {len(scores) / seconds:.1f} |")
    ours, theirs = rows["danlu eval -> danlu serve"], rows["lm-eval -> danlu serve"]
    same = sum(a == b for a, b in zip(ours[0], theirs[0], strict=True))
    print(f"\nitem-by-item agreement, danlu eval vs lm-eval over the server: {same}/{args.items}")
    print(f"items/s, danlu eval / lm-eval over the server: {theirs[1] / ours[1]:.2f}")


if __name__ == "__main__":
    main()

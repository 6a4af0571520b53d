"""BFCL side by side: danlu's constrained calls, the same model unconstrained, llama-server.

    bash benchmarks/build_llama_cpp.sh               # llama-server, from the vendored llama.cpp
    .venv/bin/python benchmarks/bfcl.py --limit 25   # 25 items of each category, one run

Every side answers the same items (`--limit` per category, `--seed`) with BFCL's own
checker (`danlu eval --task bfcl`, docs/eval.md), greedy, the same --max-tokens and
--tool-choice (auto as BFCL asks; required forces a call on every side):
* danlu: the store model through danlu's tool calling, the call grammar on (lazy, `auto`);
* danlu, no grammar: the same prompt decoded without the grammar (`--no-tool-grammar`);
* llama-server --jinja: the same GGUF behind llama.cpp's server, through its `tool_calls`.
Prints per category the accuracy, the malformed share and the cut-off share of each side,
as markdown.
Nothing else should run meanwhile (two llama.cpp processes on 2 cores slow each other).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from serve import LLAMA_SERVER, danlu_repacks, free_port, start  # benchmarks/ is on sys.path

import danlu
from danlu.config import Settings
from danlu.evaluate import EvalSettings, ModelScorer, ServerScorer, evaluate
from danlu.evaluate.bfcl_checker import CATEGORIES
from danlu.store import Catalog


def side_by_side(a) -> dict[str, dict]:
    """Each side's result.json, by the side's name."""
    settings = EvalSettings(
        task="bfcl",
        limit=a.limit,
        seed=a.seed,
        max_tokens=a.max_tokens,
        tool_choice=a.tool_choice,
    )
    results = {}
    with danlu.load(a.model, n_ctx=a.ctx_size, threads=a.threads) as model:
        results["danlu"] = evaluate(settings, ModelScorer(model))
        off = settings.model_copy(update={"tool_grammar": False})
        results["danlu, no grammar"] = evaluate(off, ModelScorer(model))
    results["llama-server --jinja"] = llama_server(a, settings)
    return results


def llama_server(a, settings: EvalSettings) -> dict:
    """The same GGUF behind llama-server --jinja, with the threads and context of danlu's side."""
    _, gguf = Catalog(Settings()).gguf_path(
        a.model, done="served by llama-server", hint="a GGUF model"
    )
    port = free_port()
    cmd = [a.llama_server, "-m", str(gguf), "--port", str(port), "--no-webui", "--jinja"]
    cmd += ["-t", str(a.threads), "-tb", str(a.threads), "-c", str(a.ctx_size), "-np", "1"]
    if not danlu_repacks():  # the same kernels on both sides (and no AMX crash)
        cmd.append("--no-repack")
    url = f"http://127.0.0.1:{port}"
    proc = start(cmd, url, {}, "/health")
    scorer = ServerScorer(url, a.model)
    try:
        return evaluate(settings, scorer)
    finally:
        scorer.close()
        proc.terminate()
        proc.wait()


def table(results: list[dict[str, Any]]) -> str:
    """Per category: accuracy, malformed share and cut-off share of each side."""
    sides = list(results)
    head = "| category | " + " | ".join(f"{s}: acc · malformed · cut off" for s in sides) + " |"
    lines = [head, "|---|" + "---:|" * len(sides)]
    for category in [*CATEGORIES, "overall"]:
        cells = []
        for side in sides:
            scores = results[side]["scores"]
            if category == "overall":
                n = scores["overall"]["n"]
                shares = [scores[k]["mean"] for k in ("overall", "malformed", "cut_off")]
            else:
                summary = scores["subjects"][category]
                n = summary["n"]
                shares = [summary[k] for k in ("mean", "malformed", "cut_off")]
            cells.append(" · ".join(f"{x:.2f}" for x in shares) + f" (n={n})")
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="smollm2")
    p.add_argument("--limit", type=int, default=25, help="items per category")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument(
        "--tool-choice",
        choices=("auto", "required"),
        default="auto",
        help="required: every side must call (irrelevance then always fails)",
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ctx-size", type=int, default=4096)
    p.add_argument("--llama-server", default=str(LLAMA_SERVER), help="llama-server binary")
    p.add_argument("--json", type=Path, help="also write every side's result.json here")
    a = p.parse_args()
    if not Path(a.llama_server).exists():
        sys.exit(f"{a.llama_server} is missing: run bash benchmarks/build_llama_cpp.sh")
    results = side_by_side(a)
    print(table(results), end="")
    for side, result in results.items():
        print(f"{side}: {result['run_dir']}", file=sys.stderr)
    if a.json:
        a.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

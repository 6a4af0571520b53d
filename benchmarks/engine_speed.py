"""Prompt processing (pp) and generation (tg) speed: danlu's engine vs llama-cpp-python or
llama.cpp's own llama-bench.

Both load the same GGUF with the same threads, flash-attention and repack settings and batch
size (512, micro-batch 512), and alternate repetition by repetition so drift hits both alike;
llama-bench gets `--repack 0` whenever danlu's engine runs with repack off (on a CPU with AMX
by default, where repacked weights crash llama.cpp, #20824), so both run the same kernels;
llama-bench runs as a subprocess, one repetition (after its own warm-up) per call.
pp: 512 prompt tokens from an empty cache. tg: 128 greedy tokens after a short
prompt, end-of-generation ignored (as llama-bench does). danlu's side is measured by
`danlu.bench.speed`, the code behind `danlu bench`.

    python benchmarks/engine_speed.py --threads 2 --reps 5
    python benchmarks/engine_speed.py --reference llama-bench --flash-attn on --reps 9
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from llama_cpp import Llama

from danlu.bench.speed import filler_tokens, time_pp, time_tg
from danlu.config import Settings
from danlu.engine.base import LoadOptions
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.engine.llamacpp.machine import resolve_repack
from danlu.store import Catalog

N_CTX = 2048
LLAMA_BENCH = Path(__file__).parent.parent / ".bench/llama.cpp/build/bin/llama-bench"


def raw_pp(llm: Llama, tokens: list[int]) -> float:
    llm.reset()
    llm._ctx.kv_cache_clear()
    start = time.perf_counter()
    llm.eval(tokens)
    return len(tokens) / (time.perf_counter() - start)


def raw_tg(llm: Llama, tokens: list[int], n: int) -> float:
    llm.reset()
    stream = llm.generate(tokens, temp=0.0, reset=True)
    next(stream)  # the first token pays for the prompt
    start = time.perf_counter()
    for _ in range(n):
        next(stream)
    return n / (time.perf_counter() - start)


def bench_rate(binary: str, gguf: str, a: argparse.Namespace, test: str) -> float:
    """One llama-bench repetition of pp (test 'pp') or tg, in tok/s (it warms up first)."""
    n_prompt, n_gen = (a.pp, 0) if test == "pp" else (0, a.tg)
    cmd = [
        *[binary, "-m", gguf, "-t", str(a.threads), "-r", "1", "-o", "json"],
        *["-p", str(n_prompt), "-n", str(n_gen), "-b", "512", "-ub", "512", "-fa", a.flash_attn],
        *["--repack", "1" if resolve_repack(a.repack) else "0"],
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"llama-bench failed: {done.stderr.strip().splitlines()[-1:]}")
    return float(json.loads(done.stdout)[0]["avg_ts"])


def reference(a: argparse.Namespace, gguf: str, pp_tokens: list[int], tg_tokens: list[int]):
    """(name, pp(), tg()) of the contender danlu is compared with."""
    if a.reference == "llama-bench":
        binary = str(Path(a.llama_bench))
        return (
            "llama-bench",
            lambda: bench_rate(binary, gguf, a, "pp"),
            lambda: bench_rate(binary, gguf, a, "tg"),
        )
    llm = Llama(
        gguf,
        n_ctx=N_CTX,
        n_batch=512,
        n_threads=a.threads,
        n_threads_batch=a.threads,
        flash_attn=a.flash_attn != "off",  # its switch; on a CPU 'auto' resolves to on
        verbose=False,
    )
    return (
        "llama-cpp-python",
        lambda: raw_pp(llm, pp_tokens),
        lambda: raw_tg(llm, tg_tokens, a.tg),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="model name in the danlu store")
    parser.add_argument("--threads", type=int, default=Settings().threads)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--pp", type=int, default=512)
    parser.add_argument("--tg", type=int, default=128)
    parser.add_argument("--flash-attn", choices=("on", "off", "auto"), default="auto")
    parser.add_argument(
        "--repack",
        type=lambda v: {"on": True, "off": False}[v],
        default=None,
        help="on or off (default: danlu's rule for this CPU, given to both sides)",
    )
    parser.add_argument(
        "--reference", choices=("llama-cpp-python", "llama-bench"), default="llama-cpp-python"
    )
    parser.add_argument("--llama-bench", default=str(LLAMA_BENCH), help="llama-bench binary")
    args = parser.parse_args()

    path: Path = Catalog(Settings()).main_path(args.model)
    options = LoadOptions(
        n_ctx=N_CTX, threads=args.threads, flash_attn=args.flash_attn, repack=args.repack
    )
    engine = LlamaCppEngine(path, options)
    pp_tokens = filler_tokens(engine, args.pp)
    tg_tokens = filler_tokens(engine, 16)
    name, ref_pp, ref_tg = reference(args, str(path), pp_tokens, tg_tokens)
    results: dict[str, list[float]] = {k: [] for k in ("raw_pp", "dl_pp", "raw_tg", "dl_tg")}
    for _ in range(args.reps):
        results["raw_pp"].append(ref_pp())
        results["dl_pp"].append(time_pp(engine, [], pp_tokens))
        results["raw_tg"].append(ref_tg())
        results["dl_tg"].append(time_tg(engine, [], args.tg))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"model {args.model}, threads {args.threads}, flash attention {args.flash_attn}, "
        f"repack {engine.facts['repack']}, batch 512, reps {args.reps} (median tok/s)"
    )
    print(f"| test | {name} | danlu | danlu / {name} |")
    print("| --- | ---: | ---: | ---: |")
    for test, n in (("pp", args.pp), ("tg", args.tg)):
        raw, ours = med[f"raw_{test}"], med[f"dl_{test}"]
        print(f"| {test}{n} | {raw:.1f} | {ours:.1f} | {ours / raw:.3f} |")


if __name__ == "__main__":
    main()

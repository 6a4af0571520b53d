"""Prompt processing (pp) and generation (tg) speed: danlu's engine vs raw llama-cpp-python.

Both load the same GGUF with the same threads, context and batch size, in one
process, and alternate repetition by repetition so drift hits both alike.
pp: 512 prompt tokens from an empty cache. tg: 128 greedy tokens after a short
prompt, end-of-generation ignored (as llama-bench does). danlu's side is measured by
`danlu.bench.speed`, the code behind `danlu bench`.

    python benchmarks/engine_speed.py --threads 2 --reps 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from llama_cpp import Llama

from danlu.bench.speed import filler_tokens, time_pp, time_tg
from danlu.config import Settings
from danlu.engine.base import LoadOptions
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.store import Catalog

N_CTX = 2048


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="model name in the danlu store")
    parser.add_argument("--threads", type=int, default=Settings().threads)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--pp", type=int, default=512)
    parser.add_argument("--tg", type=int, default=128)
    args = parser.parse_args()

    path: Path = Catalog(Settings()).main_path(args.model)
    engine = LlamaCppEngine(path, LoadOptions(n_ctx=N_CTX, threads=args.threads))
    llm = Llama(
        str(path),
        n_ctx=N_CTX,
        n_batch=512,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    pp_tokens = filler_tokens(engine, args.pp)
    tg_tokens = filler_tokens(engine, 16)
    results: dict[str, list[float]] = {k: [] for k in ("raw_pp", "dl_pp", "raw_tg", "dl_tg")}
    for _ in range(args.reps):
        results["raw_pp"].append(raw_pp(llm, pp_tokens))
        results["dl_pp"].append(time_pp(engine, [], pp_tokens))
        results["raw_tg"].append(raw_tg(llm, tg_tokens, args.tg))
        results["dl_tg"].append(time_tg(engine, [], args.tg))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"model {args.model}, threads {args.threads}, reps {args.reps} (median tok/s)")
    print("| test | llama-cpp-python | danlu | danlu / raw |")
    print("| --- | ---: | ---: | ---: |")
    for test, n in (("pp", args.pp), ("tg", args.tg)):
        raw, ours = med[f"raw_{test}"], med[f"dl_{test}"]
        print(f"| {test}{n} | {raw:.1f} | {ours:.1f} | {ours / raw:.3f} |")


if __name__ == "__main__":
    main()

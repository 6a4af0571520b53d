"""What danlu's engine costs over llama.cpp itself, in one process and one context.

tg128 through danlu's engine (scheduler, sampler, text stream: `danlu bench`'s timer)
against a bare loop of `llama_decode` + `llama_synchronize` on the same llama.cpp context,
one token at a time, no sampling (what llama-bench's tg does), alternating rep by rep.
The ratio is danlu's own overhead; whatever is left between danlu and `llama-bench` is
outside danlu's code (the library in a Python process against the llama-bench binary).

    python benchmarks/decode_overhead.py --flash-attn on --reps 9
"""

from __future__ import annotations

import argparse
import statistics
import time

import llama_cpp

from danlu.bench.speed import time_tg
from danlu.config import Settings
from danlu.engine.base import LoadOptions
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.store import Catalog

PROMPT = 8  # tokens before generation, as time_tg's prompt


def bare_tg(engine: LlamaCppEngine, n: int) -> float:
    """tok/s of n single-token decodes on the engine's own context (its internals: a
    benchmark may reach in; nothing else should)."""
    ctx = engine._ctx.ctx
    memory = llama_cpp.llama_get_memory(ctx)
    llama_cpp.llama_memory_clear(memory, True)
    token = (llama_cpp.llama_token * 1)(1)
    for i in range(PROMPT):
        token[0] = 1 + i
        llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(token, 1))
    llama_cpp.llama_synchronize(ctx)
    start = time.perf_counter()
    for i in range(n):
        token[0] = (i * 7919) % engine.n_vocab
        llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(token, 1))
        llama_cpp.llama_synchronize(ctx)
    rate = n / (time.perf_counter() - start)
    llama_cpp.llama_memory_clear(memory, True)
    engine.reset()  # the engine's slots must not believe their old tokens are cached
    return rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--flash-attn", choices=("on", "off"), default="on")
    p.add_argument("--tg", type=int, default=128)
    p.add_argument("--reps", type=int, default=9)
    a = p.parse_args()
    path = Catalog(Settings()).main_path("smollm2")
    options = LoadOptions.build(n_ctx=2048, threads=a.threads, flash_attn=a.flash_attn)
    engine = LlamaCppEngine(path, options)
    try:
        bare_tg(engine, a.tg), time_tg(engine, [], a.tg)  # warm-up, not counted
        bare, ours = [], []
        for _ in range(a.reps):
            bare.append(bare_tg(engine, a.tg))
            ours.append(time_tg(engine, [], a.tg))
    finally:
        engine.close()
    ratios = [o / b for o, b in zip(ours, bare, strict=True)]
    print(
        f"tg{a.tg}, flash attention {a.flash_attn}, {a.threads} threads, {a.reps} reps: "
        f"bare decode loop {statistics.median(bare):.1f} tok/s, danlu engine "
        f"{statistics.median(ours):.1f} tok/s, median ratio {statistics.median(ratios):.3f} "
        f"({', '.join(f'{r:.3f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()

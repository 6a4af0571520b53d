"""Where danlu's generation gap to llama-bench lies: the library, the caller, or the process.

Generation (tgN, one token per llama_decode, as llama-bench's tg test) measured in one run,
alternating contender by contender each repetition, at the same threads, flash-attention
and repack settings:

* llama-bench itself;
* `bare_decode.c` linked to the library llama-bench uses (.bench/llama.cpp/build) and to
  the one inside the installed llama-cpp-python wheel (what danlu calls), each with
  llama.cpp's per-graph thread pool (what every llama-cpp-python caller gets) and with a
  pool attached as llama-bench attaches one (polling level 50);
* the same C loop on danlu's context shape (its n_ctx, two sequences);
* a bare Python loop of llama_decode + llama_synchronize through ctypes;
* danlu's engine (`danlu bench`'s timer).

Needs `bash benchmarks/build_llama_cpp.sh` first; builds the C loop itself with cc.

With --in-process the contenders all run in this process, where the spread between reps is
smaller: the ctypes loop on a context made with a raw `llama_init_from_model`, the same loop
on danlu's engine context, and danlu's engine.

    python -m benchmarks.tg_gap --flash-attn on --reps 7
    python -m benchmarks.tg_gap --flash-attn on --reps 15 --in-process
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import llama_cpp

from danlu.bench.speed import time_tg
from danlu.config import Settings
from danlu.engine.base import LoadOptions
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.engine.llamacpp.machine import resolve_repack
from danlu.store import Catalog

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
SOURCE = Path(__file__).with_name("bare_decode.c")
LLAMA_CPP = BENCH / "llama.cpp"
WHEEL_LIB = Path(llama_cpp.__file__).parent / "lib"
BENCH_LIB = LLAMA_CPP / "build" / "bin"


def build(lib: Path, name: str) -> Path:
    """bare_decode.c compiled against the libllama.so in `lib` (rebuilt when older)."""
    out = BENCH / name
    if out.exists() and out.stat().st_mtime > SOURCE.stat().st_mtime:
        return out
    includes = [f"-I{LLAMA_CPP / 'include'}", f"-I{LLAMA_CPP / 'ggml' / 'include'}"]
    libs = [f"-L{lib}", f"-Wl,-rpath,{lib}", "-lllama", "-lggml", "-lggml-cpu", "-lggml-base"]
    subprocess.run(["cc", "-O2", str(SOURCE), *includes, *libs, "-o", str(out)], check=True)
    return out


def run_c(binary: Path, gguf: Path, a, *, poll: int, n_ctx: int, n_seq: int) -> float:
    fa = {"on": "1", "off": "0", "auto": "-1"}[a.flash_attn]
    args = [str(a.threads), str(a.tg), fa, str(int(a.repack)), str(poll), str(n_ctx), str(n_seq)]
    done = subprocess.run([str(binary), str(gguf), *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{binary.name} failed ({done.returncode}): {done.stderr.strip()}")
    return float(done.stdout)


def run_llama_bench(gguf: Path, a) -> float:
    cmd = [str(BENCH_LIB / "llama-bench"), "-m", str(gguf), "-t", str(a.threads), "-r", "1"]
    cmd += ["-o", "json", "-p", "0", "-n", str(a.tg), "-fa", a.flash_attn]
    cmd += ["--repack", str(int(a.repack))]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout)[0]["avg_ts"])


def bare_python(engine: LlamaCppEngine, n: int) -> float:
    """A ctypes loop on the engine's own context (a benchmark may reach in)."""
    from benchmarks.decode_overhead import bare_tg

    return bare_tg(engine, n)


def raw_context(gguf: Path, a, n_ctx: int):
    """A llama.cpp context made with the C API alone, shaped as danlu's (two sequences)."""
    model = llama_cpp.llama_model_load_from_file(str(gguf).encode(), _model_params(a))
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_seq_max = n_ctx * 2, 2
    params.n_batch = params.n_ubatch = min(512, n_ctx)
    params.n_threads = params.n_threads_batch = a.threads
    params.flash_attn_type = {
        "on": llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED,
        "off": llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED,
        "auto": llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO,
    }[a.flash_attn]
    return model, llama_cpp.llama_init_from_model(model, params)


def _model_params(a):
    params = llama_cpp.llama_model_default_params()
    params.use_extra_bufts = a.repack
    return params


def ctypes_loop(ctx, n: int) -> float:
    """tok/s of n single-token decodes from an empty cache, as the C loop does them."""
    memory = llama_cpp.llama_get_memory(ctx)
    token = (llama_cpp.llama_token * 1)(1)
    llama_cpp.llama_memory_clear(memory, True)
    llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(token, 1))  # warm-up
    llama_cpp.llama_synchronize(ctx)
    llama_cpp.llama_memory_clear(memory, True)
    start = time.perf_counter()
    for _ in range(n):
        llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(token, 1))
        llama_cpp.llama_synchronize(ctx)
    return n / (time.perf_counter() - start)


def in_process(a, gguf: Path, engine: LlamaCppEngine) -> dict[str, Callable[[], float]]:
    _, raw = raw_context(gguf, a, engine.n_ctx)

    def on_engine() -> float:
        rate = ctypes_loop(engine._ctx.ctx, a.tg)  # a benchmark may reach in
        engine.reset()  # its slots must not believe their old tokens are cached
        return rate

    return {
        "ctypes loop, raw context": lambda: ctypes_loop(raw, a.tg),
        "ctypes loop, danlu's engine context": on_engine,
        "danlu engine": lambda: time_tg(engine, [], a.tg),
    }


def contenders(a, gguf: Path, engine: LlamaCppEngine) -> dict[str, Callable[[], float]]:
    wheel, bench = build(WHEEL_LIB, "bare_decode_wheel"), build(BENCH_LIB, "bare_decode_bench")
    bench_shape = {"n_ctx": a.tg, "n_seq": 1}  # llama-bench: the test's tokens, one sequence
    danlu_shape = {"n_ctx": engine.n_ctx, "n_seq": 2}  # danlu bench: a slot + scoring
    return {
        "llama-bench": lambda: run_llama_bench(gguf, a),
        "C, bench lib, pool 50": lambda: run_c(bench, gguf, a, poll=50, **bench_shape),
        "C, bench lib, no pool": lambda: run_c(bench, gguf, a, poll=-1, **bench_shape),
        "C, wheel lib, pool 50": lambda: run_c(wheel, gguf, a, poll=50, **bench_shape),
        "C, wheel lib, no pool": lambda: run_c(wheel, gguf, a, poll=-1, **bench_shape),
        "C, wheel lib, no pool, danlu's shape": lambda: run_c(
            wheel, gguf, a, poll=-1, **danlu_shape
        ),
        "Python ctypes loop, danlu's context": lambda: bare_python(engine, a.tg),
        "danlu engine": lambda: time_tg(engine, [], a.tg),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--flash-attn", choices=("on", "off", "auto"), default="on")
    p.add_argument("--repack", choices=("on", "off"), default=None)
    p.add_argument("--tg", type=int, default=128)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--in-process", action="store_true", help="only the in-process contenders")
    a = p.parse_args()
    a.repack = resolve_repack(None if a.repack is None else a.repack == "on")
    gguf = Catalog(Settings()).main_path("smollm2")
    n_ctx = 8 + a.tg + 16  # what `danlu bench` gives a tg test (speed.context_needed)
    options = LoadOptions.build(
        n_ctx=max(n_ctx, 64), threads=a.threads, flash_attn=a.flash_attn, repack=a.repack
    )
    engine = LlamaCppEngine(gguf, options)
    try:
        runs = (in_process if a.in_process else contenders)(a, gguf, engine)
        for run in runs.values():  # warm-up, not counted
            run()
        rates: dict[str, list[float]] = {name: [] for name in runs}
        for rep in range(a.reps):
            order = list(runs.items())
            for name, run in order if rep % 2 == 0 else reversed(order):
                rates[name].append(run())
    finally:
        engine.close()
    report(a, rates)


def report(a, rates: dict[str, list[float]]) -> None:
    first = next(iter(rates))
    reference = rates[first]
    print(
        f"tg{a.tg}, {a.threads} threads, flash attention {a.flash_attn}, "
        f"repack {'on' if a.repack else 'off'}, {a.reps} reps, alternating"
    )
    print(f"| contender | tok/s (median) | ratio to {first} (median of per-rep ratios) |")
    print("| --- | ---: | ---: |")
    for name, values in rates.items():
        ratios = [v / r for v, r in zip(values, reference, strict=True)]
        print(f"| {name} | {statistics.median(values):.1f} | {statistics.median(ratios):.3f} |")


if __name__ == "__main__":
    main()

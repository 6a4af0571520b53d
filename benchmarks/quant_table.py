"""The quantization table for the embedded SmolLM2, and how long its export steps take.

1. The packaged Q4_1 GGUF is dequantized into a transformers folder (train/base.py, the
   same cache `danlu train` uses; timed only when it is built here).
2. That folder is converted to an f16 GGUF with llama.cpp's converter (export's step).
3. The f16 GGUF is quantized to each type (llama.cpp's quantizer, export's step).
4. Every GGUF is measured against the transformers model with export's parity check
   (greedy and top-1 agreement, log-likelihood per token, drops against f16), and its
   pp/tg speed with `danlu bench`'s timers, the median of --reps repetitions.

    python benchmarks/quant_table.py --threads 2 --reps 5 --out quant_table.json
    python benchmarks/quant_table.py --tiny    # a quick check that it runs (2 types)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from danlu.bench.speed import filler_tokens, time_pp, time_tg
from danlu.chat.template import resolve_template
from danlu.config import Settings
from danlu.engine.base import LoadOptions
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.export.convert import convert
from danlu.export.quantize import COMMON, quantize
from danlu.export.run import ExportOptions, check_parity
from danlu.train.base import dequantize, find_base


def timed(work):
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def speed(path: Path, a: argparse.Namespace) -> dict[str, float]:
    engine = LlamaCppEngine(path, LoadOptions.build(n_ctx=1024, threads=a.threads))
    try:
        tokens = filler_tokens(engine, a.pp)
        pp = [time_pp(engine, [], tokens) for _ in range(a.reps)]
        tg = [time_tg(engine, [], a.tg) for _ in range(a.reps)]
    finally:
        engine.close()
    return {"pp_tps": statistics.median(pp), "tg_tps": statistics.median(tg)}


def table(rows: list[dict], times: dict[str, float]) -> str:
    head = (
        "| type | size MB | pp t/s | tg t/s | greedy | top-1 | Δ top-1 | flips (near-ties) "
        "| LL/token | Δ LL |"
    )
    lines = [head, "|" + " --- |" * 10]
    for r in rows:
        drop = "-" if r["top1_drop"] is None else f"{r['top1_drop']:.1%}"
        ll_drop = "-" if r["ll_drop"] is None else f"{r['ll_drop']:+.4f}"
        lines.append(
            f"| {r['variant']} | {r['size'] / 1e6:.1f} | {r['pp_tps']:.1f} | {r['tg_tps']:.1f} "
            f"| {r['greedy']}/{r['prompts']} | {r['top1']:.1%} | {drop} "
            f"| {r['flips']} ({r['near_ties']}) | {r['ll']:.4f} "
            f"| {ll_drop} |"
        )
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
    return "\n".join(lines) + f"\n\nexport steps: {steps}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--pp", type=int, default=512)
    parser.add_argument("--tg", type=int, default=128)
    parser.add_argument("--quants", default=",".join(COMMON))
    parser.add_argument("--tiny", action="store_true", help="2 types, 1 rep, short tests")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON here")
    a = parser.parse_args()
    if a.tiny:
        a.quants, a.reps, a.pp, a.tg = "q8_0,q4_0", 1, 64, 16
    settings = Settings()
    ref = find_base("smollm2", settings)
    times = {}
    if not ref.cached:
        _, times["dequantize"] = timed(lambda: dequantize(ref))
    work = Path(tempfile.mkdtemp(prefix="quant-table-"))
    f16, times["convert f16"] = timed(lambda: convert(ref.folder, work / "f16.gguf"))
    candidates = [("f16", f16, ())]
    for qtype in a.quants.split(","):
        out, times[f"quantize {qtype}"] = timed(
            lambda q=qtype: quantize(f16, work / f"{q}.gguf", q, threads=a.threads)
        )
        candidates.append((qtype, out, ()))
    template = resolve_template(ref.manifest.chat_template, ref.manifest.template).source
    options = ExportOptions(name="quant-table", threads=a.threads)
    report = check_parity(ref.folder, template, candidates, options)
    pairs = zip(report.rows, candidates, strict=True)
    rows = [vars(row) | speed(path, a) for row, (_, path, _) in pairs]
    print(table(rows, times))
    if a.out:
        a.out.write_text(json.dumps({"rows": rows, "seconds": times}, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Bench results as a markdown table (llama-bench's columns), JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from danlu.bench.speed import SpeedRow


def speed_table(rows: list[SpeedRow]) -> str:
    lines = [
        "| model | size | threads | n_batch | fa | repack | test | t/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.size_mb:.1f} MiB | {r.threads} | {r.n_batch} | {r.flash_attn} | "
            f"{r.repack} | "
            f"{r.test} | "
            f"{r.tokens_per_second} |"
        )
    return "\n".join(lines) + "\n"


def speed_csv(rows: list[SpeedRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "model",
            "size_mb",
            "threads",
            "n_batch",
            "fa",
            "repack",
            "test",
            "tps_mean",
            "tps_std",
            "reps",
        ]
    )
    for r in rows:
        t = r.tokens_per_second
        writer.writerow(
            [
                r.model,
                f"{r.size_mb:.1f}",
                r.threads,
                r.n_batch,
                r.flash_attn,
                r.repack,
                r.test,
                f"{t.mean:.3f}",
                f"{t.std:.3f}",
                t.n,
            ]
        )
    return out.getvalue()


def speed_json(rows: list[SpeedRow]) -> str:
    return json.dumps([r.as_dict() for r in rows], indent=2)


def _ms(latency: dict[str, float]) -> str:
    return " / ".join(f"{latency[k] * 1000:.0f}" for k in ("mean", "p50", "p90", "p99"))


def load_table(levels: list[dict[str, Any]]) -> str:
    lines = [
        "| clients | requests | errors | req/s | output tok/s | TTFT ms (mean/p50/p90/p99) "
        "| TPOT ms (mean/p50/p90/p99) | ITL ms (mean/p50/p90/p99) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for lv in levels:
        lines.append(
            f"| {lv['concurrency']} | {lv['requests']} | {lv['errors']} | "
            f"{lv['requests_per_second']:.2f} | {lv['output_tokens_per_second']:.1f} | "
            f"{_ms(lv['ttft'])} | {_ms(lv['tpot'])} | {_ms(lv['itl'])} |"
        )
    return "\n".join(lines) + "\n"


def load_csv(levels: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    keys = ("mean", "p50", "p90", "p99")
    writer.writerow(
        [
            "concurrency",
            "requests",
            "errors",
            "requests_per_second",
            "output_tokens_per_second",
            *[f"{m}_{k}" for m in ("ttft", "tpot", "itl") for k in keys],
        ]
    )
    for lv in levels:
        writer.writerow(
            [
                lv["concurrency"],
                lv["requests"],
                lv["errors"],
                f"{lv['requests_per_second']:.4f}",
                f"{lv['output_tokens_per_second']:.3f}",
                *[f"{lv[m][k]:.6f}" for m in ("ttft", "tpot", "itl") for k in keys],
            ]
        )
    return out.getvalue()

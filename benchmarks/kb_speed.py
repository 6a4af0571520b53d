"""Knowledge-base speed: ingest throughput against raw embedding, and query latency.

1. Overhead: a corpus of `--ratio-chunks` chunks (Markdown files of varied English and
   Chinese paragraphs) is ingested into a fresh SQLite KB, end to end (walk, hash, parse,
   chunk, embed, segment, store), and the same chunk texts are embedded by one raw
   `SentenceTransformer.encode` call with the same batch size. The two alternate for
   `--reps` repetitions (order swapped each time, a fresh KB each time); the overhead is
   the median of (ingest time / encode time - 1).
2. Query latency: a KB of `--chunks` chunks is ingested (its rate is reported too), then
   p50 and p95 of dense, keyword and hybrid search over generated queries.
Targets (issue 8): overhead under 15%; hybrid p50 under 50 ms on 2 cores at 10k chunks.

    python benchmarks/kb_speed.py --chunks 10000 --queries 200 --ratio-chunks 1000 --reps 3
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import danlu.kb
from danlu.config import Settings
from danlu.kb import SearchOptions
from danlu.kb.base import BATCH

WORDS = [
    "leave",
    "policy",
    "expense",
    "travel",
    "hotel",
    "laptop",
    "password",
    "badge",
    "visitor",
    "canteen",
    "lunch",
    "warehouse",
    "shipment",
    "invoice",
    "contract",
    "customer",
    "privacy",
    "security",
    "incident",
    "report",
    "manager",
    "approval",
    "portal",
    "request",
    "deadline",
    "budget",
    "office",
    "meeting",
    "training",
    "safety",
]
CHINESE = [
    "年假",
    "申请",
    "报销",
    "出差",
    "发票",
    "工资",
    "经理",
    "审批",
    "系统",
    "食堂",
    "午餐",
    "补贴",
    "安全",
    "事故",
    "培训",
    "会议",
]


def paragraph(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return "，".join("".join(rng.choices(CHINESE, k=4)) for _ in range(6)) + "。"
    sentences = (" ".join(rng.choices(WORDS, k=12)).capitalize() + "." for _ in range(4))
    return " ".join(sentences)


def make_corpus(folder: Path, paragraphs: int, rng: random.Random) -> None:
    """Files of 40 paragraphs under headings (about 2 paragraphs a 200-token chunk)."""
    folder.mkdir(parents=True)
    for i in range(0, paragraphs, 40):
        parts = [f"# Document {i}"]
        for j in range(i, min(i + 40, paragraphs)):
            parts += ([f"## Section {j}"] if j % 8 == 0 else []) + [paragraph(rng)]
        (folder / f"doc{i:06}.md").write_text("\n\n".join(parts), encoding="utf-8")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def query_latency(kb, queries: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for mode in ("dense", "keyword", "hybrid"):
        times = []
        for q in queries:
            kb.query_vectors.vectors.clear()  # time the query's embedding too, every time
            start = time.perf_counter()
            kb.search(q, SearchOptions(k=5, mode=mode))
            times.append((time.perf_counter() - start) * 1000)
        out[mode] = {"p50_ms": statistics.median(times), "p95_ms": percentile(times, 0.95)}
    return out


def ingest_vs_encode(
    root: Path, rng: random.Random, chunks: int, reps: int, batch: int
) -> list[dict]:
    """Alternating reps of (ingest into a fresh KB, raw encode of the same texts)."""
    make_corpus(root / "docs", int(chunks * 2.7), rng)  # ~2.7 paragraphs a chunk
    out = []
    for rep in range(reps):
        kb = danlu.kb.create(f"ratio{rep}", settings=Settings(home=root / f"home{rep}"))
        out.append(one_rep(kb, root / "docs", batch, ingest_first=rep % 2 == 0))
        kb.close()
    return out


def one_rep(kb, folder: Path, batch: int, *, ingest_first: bool) -> dict[str, float]:
    texts = corpus_texts(kb, folder)  # what the pipeline will embed, chunked the same way
    kb.embedder.embed(["warm up"])

    def ingest() -> float:
        start = time.perf_counter()
        kb.add([folder], batch=batch)
        return time.perf_counter() - start

    def encode() -> float:
        start = time.perf_counter()
        kb.embedder.model.encode(texts, batch_size=kb.embedder.batch_size)
        return time.perf_counter() - start

    order = (ingest, encode) if ingest_first else (encode, ingest)
    return {step.__name__: round(step(), 2) for step in order}


def corpus_texts(kb, folder: Path) -> list[str]:
    """The chunk texts the pipeline will embed (heading path + text)."""
    from danlu.kb.loaders import load_document

    chunker = kb._ingester().chunker
    files = sorted(folder.iterdir())
    return [c.indexed_text for path in files for c in chunker.chunks(load_document(path))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000, help="chunks in the latency KB")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ratio-chunks", type=int, default=1_000, help="chunks per overhead rep")
    parser.add_argument("--reps", type=int, default=3, help="overhead repetitions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--batch", type=int, default=BATCH, help="chunks embedded at a time (ingest's default)"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        reps = ingest_vs_encode(Path(tmp) / "ratio", rng, args.ratio_chunks, args.reps, args.batch)
        make_corpus(Path(tmp) / "docs", int(args.chunks * 2.7), rng)
        kb = danlu.kb.create("bench", settings=Settings(home=Path(tmp) / "home"))
        kb.embedder.embed(["warm up"])
        start = time.perf_counter()
        report = kb.add([Path(tmp) / "docs"], batch=args.batch)
        ingest_s = time.perf_counter() - start
        queries = [" ".join(rng.choices(WORDS, k=4)) for _ in range(args.queries // 2)]
        queries += ["".join(rng.choices(CHINESE, k=2)) for _ in range(args.queries // 2)]
        latency = query_latency(kb, queries)
        kb.close()
    overheads = [100 * (r["ingest"] / r["encode"] - 1) for r in reps]
    result = {
        "overhead_reps": reps,
        "pipeline_overhead_pct_median": round(statistics.median(overheads), 1),
        "latency_kb_chunks": report.chunks,
        "latency_kb_ingest_s": round(ingest_s, 2),
        "latency_kb_ingest_chunks_per_s": round(report.chunks / ingest_s, 1),
        "latency": {m: {k: round(v, 2) for k, v in d.items()} for m, d in latency.items()},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Serving benchmark: `danlu serve` vs llama-cpp-python's own server, in one run.

Both serve the same GGUF with the same threads and per-request context on loopback.
K concurrent clients stream chat completions (temperature 0) through the client of
`danlu bench serve` (danlu.bench.load); we report output tokens/s over the whole phase,
time to first token (TTFT) p50/p90 and inter-token latency (ITL) p50, errors, and a
multi-turn prefix-cache TTFT ratio. Tokens are counted as streamed content chunks (both
servers send one token per chunk).

Last, one stream through danlu's server is compared with the same prompt run in
process (no HTTP), alternating rep by rep: the decode rate from first to last token.

    python benchmarks/serve.py --threads 2 --parallel 8 --clients 1,8 --requests 2
    python benchmarks/serve.py --reference llama-server --parallel 8 --clients 1,8 --requests 4 \
        --rounds 5     # levels repeated, servers alternating; ratios per round, then the median
    python benchmarks/serve.py --reference llama-server --defaults --clients 1,8 --requests 4
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from danlu.bench.load import (
    TOPICS,
    LoadSettings,
    Sample,
    chat_body,
    chat_url,
    run_level,
    stream_one,
)

LLAMA_SERVER = Path(__file__).parent.parent / ".bench/llama.cpp/build/bin/llama-server"
SYSTEM = "You are a careful assistant. " + " ".join(
    f"Rule {i}: answer plainly, cite nothing, and keep the tone friendly." for i in range(60)
)


@dataclass
class Phase:
    server: str
    clients: int
    tok_s: float
    ttft_p50: float
    ttft_p90: float
    itl_p50: float
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(url: str, path: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def start(cmd: list[str], url: str, env: dict[str, str], ready_path: str) -> subprocess.Popen:
    log = tempfile.TemporaryFile()  # noqa: SIM115 -- lives as long as the server process
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-5:]
            sys.exit(f"{cmd[0]} failed to start: {' | '.join(tail)}")
        if ready(url, ready_path):
            return proc
        time.sleep(0.2)
    proc.kill()
    sys.exit(f"{cmd[0]} did not become ready in 120 s")


def stream_chat(url: str, messages: list[dict], max_tokens: int, **extra) -> Sample:
    """One streamed chat completion through danlu bench's own client."""
    settings = LoadSettings(url=url, max_tokens=max_tokens, usage=False)
    return stream_one(chat_url(url), chat_body(settings, messages, **extra), {}, 300)


def decode_rate(sample: Sample) -> float:
    """Tokens per second from the first token to the last: generation alone."""
    return (len(sample.stamps) - 1) / (sample.stamps[-1] - sample.stamps[0])


def phase(name: str, url: str, clients: int, requests: int, max_tokens: int) -> Phase:
    """One concurrency level through `danlu bench serve`'s code (danlu.bench.load)."""
    settings = LoadSettings(
        url=url,
        requests=clients * requests,
        max_tokens=max_tokens,
        usage=False,
        concurrency=[clients],
    )
    prompts = [f"Write a long story about {topic}." for topic in TOPICS]
    level = run_level(settings, clients, prompts)
    return Phase(
        name,
        clients,
        level["output_tokens_per_second"],
        level["ttft"]["p50"],
        level["ttft"]["p90"],
        level["itl"]["p50"],
        level["errors"],
    )


def prefix_cache(url: str, max_tokens: int) -> tuple[float, float]:
    """TTFT of a first turn with a long system prompt, then of the follow-up turn."""
    first = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Name three colours."},
    ]
    s1 = stream_chat(url, first, 24)
    answer = "Red, green and blue."
    second = [
        *first,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "And three animals?"},
    ]
    s2 = stream_chat(url, second, 8)
    return s1.ttft or 0.0, s2.ttft or 0.0


def single_stream(
    url: str, threads: int, reps: int, max_tokens: int, flash_attn: str | None = None
) -> tuple[float, float]:
    """Median decode rate of one stream through the server and of the same prompt in
    process (danlu.load, no HTTP), alternating rep by rep so that drift hits both."""
    import danlu

    ask = [{"role": "user", "content": "Write a long story about a lighthouse."}]
    served, local = [], []
    knobs = {"flash_attn": flash_attn} if flash_attn else {}  # None: danlu's defaults
    with danlu.load("smollm2", threads=threads, **knobs) as model:
        prompt = model.prepare_chat(ask, temperature=0, max_tokens=max_tokens, ignore_eos=True)
        for rep in range(reps + 1):  # the first rep warms both up and is not counted
            sample = stream_chat(url, ask, max_tokens, ignore_eos=True)
            stamps = [time.perf_counter() for c in model.stream(prompt) if c.token_ids]
            if rep:
                served.append(decode_rate(sample))
                local.append(decode_rate(Sample(0.0, stamps=stamps)))
    return statistics.median(served), statistics.median(local)


def danlu_repacks() -> bool:
    """Whether `danlu serve smollm2` repacks weights here: its defaults for this home."""
    from danlu.config import Settings
    from danlu.load_defaults import load_defaults
    from danlu.store import Catalog

    settings = Settings()
    return bool(load_defaults(Catalog(settings).get("smollm2"), settings)["repack"].value)


def commands(a, gguf: str) -> dict[str, tuple[list[str], str, str]]:
    """name -> (command line, base URL, readiness path) of each server under test.

    With --defaults each server gets only the model and a port: what a user gets.
    """
    port = free_port()
    danlu = [str(Path(sys.executable).parent / "danlu"), "serve", "smollm2", "--port", str(port)]
    if not a.defaults:
        danlu += ["-t", str(a.threads), "-np", str(a.parallel), "-c", str(a.ctx_size)]
        danlu += ["-fa", a.flash_attn]
    servers = {"danlu": (danlu, f"http://127.0.0.1:{port}", "/health")}
    if a.reference == "llama-server":
        port = free_port()
        cmd = [a.llama_server, "-m", gguf, "--port", str(port), "--no-webui"]
        if not danlu_repacks():  # both sides run the same kernels (and neither crashes on AMX)
            cmd.append("--no-repack")
        if not a.defaults:  # its -c is the whole KV cache, shared by the slots
            cmd += ["-t", str(a.threads), "-tb", str(a.threads), "-np", str(a.parallel)]
            cmd += ["-c", str(a.ctx_size * a.parallel), "-fa", a.flash_attn]
        cmd += a.llama_server_args.split()
        servers["llama-server"] = (cmd, f"http://127.0.0.1:{port}", "/health")
    elif a.reference == "llama-cpp-python":
        port = free_port()
        servers["llama-cpp-python"] = (
            [
                *[sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--port", str(port)],
                *["--n_threads", str(a.threads), "--n_threads_batch", str(a.threads)],
                *["--n_ctx", str(a.ctx_size), "--verbose", "False"],
                *["--flash_attn", str(a.flash_attn == "on")],
                # queue requests rather than cut off the running one (its default)
                *["--interrupt_requests", "False"],
            ],
            f"http://127.0.0.1:{port}",
            "/v1/models",
        )
    return servers


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--ctx-size", type=int, default=2048)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--clients", default="1,8")
    p.add_argument("--requests", type=int, default=2)
    p.add_argument("--single-reps", type=int, default=5)
    p.add_argument(
        "--rounds", type=int, default=1, help="repeat every level, alternating the servers"
    )
    p.add_argument("--flash-attn", choices=("on", "off"), default="off")
    p.add_argument(
        "--reference",
        choices=("llama-server", "llama-cpp-python", "none"),
        default="llama-cpp-python",
        help="the server danlu is compared with",
    )
    p.add_argument("--llama-server", default=str(LLAMA_SERVER), help="llama-server binary")
    p.add_argument(
        "--llama-server-args",
        default="",
        help="more llama-server flags, e.g. '--cache-ram 0' (no host-memory prompt cache)",
    )
    p.add_argument("--defaults", action="store_true", help="start each server at its defaults")
    p.add_argument("--skip-reference", action="store_true", help="same as --reference none")
    a = p.parse_args()
    if a.skip_reference:
        a.reference = "none"
    clients = [int(c) for c in a.clients.split(",")]
    env = {**os.environ, "DANLU_HOME": os.environ.get("DANLU_HOME", tempfile.mkdtemp())}
    os.environ["DANLU_HOME"] = env["DANLU_HOME"]  # the in-process model uses the same store

    from danlu.config import Settings
    from danlu.store import Catalog

    gguf = str(Catalog(Settings(home=Path(env["DANLU_HOME"]))).main_path("smollm2"))
    servers = commands(a, gguf)
    procs, phases, cache = [], [], {}
    try:
        for cmd, url, ready_path in servers.values():
            procs.append(start(cmd, url, env, ready_path))
        for _, url, _ in servers.values():
            stream_chat(url, [{"role": "user", "content": "hi"}], 4)  # warm up
        for r in range(a.rounds):  # rounds alternate who goes first: drift hits both alike
            order = list(servers.items())
            for name, (_, url, _) in order if r % 2 == 0 else reversed(order):
                for k in clients:
                    phases.append(phase(name, url, k, a.requests, a.max_tokens))
        for name, (_, url, _) in servers.items():
            cache[name] = prefix_cache(url, a.max_tokens)
        fa = None if a.defaults else a.flash_attn
        single = single_stream(servers["danlu"][1], a.threads, a.single_reps, a.max_tokens, fa)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    report(a, phases, cache, single)


def report(a, phases: list[Phase], cache: dict, single: tuple[float, float]) -> None:
    setup = (
        "each server's defaults"
        if a.defaults
        else (
            f"threads {a.threads}, parallel {a.parallel}, ctx {a.ctx_size} per slot, "
            f"flash attention {a.flash_attn}"
        )
    )
    print(f"{setup}, max_tokens {a.max_tokens}, {a.requests} requests per client")
    print(
        "| server | clients | output tok/s | TTFT p50 (s) | TTFT p90 (s) | ITL p50 (ms) | errors |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for ph in phases:
        print(
            f"| {ph.server} | {ph.clients} | {ph.tok_s:.1f} | {ph.ttft_p50:.3f} | "
            f"{ph.ttft_p90:.3f} | {ph.itl_p50 * 1000:.1f} | {ph.errors} |"
        )
    by: dict[tuple[str, int], list[Phase]] = {}
    for ph in phases:
        by.setdefault((ph.server, ph.clients), []).append(ph)
    lo, hi = min(ph.clients for ph in phases), max(ph.clients for ph in phases)
    d1 = statistics.median(ph.tok_s for ph in by[("danlu", lo)])
    dn = statistics.median(ph.tok_s for ph in by[("danlu", hi)])
    served, local = single
    print(
        f"\nsingle stream, decode rate (median of {a.single_reps}, alternating): "
        f"server {served:.1f} tok/s, in-process {local:.1f} tok/s, ratio {served / local:.3f}"
    )
    print(f"danlu {hi}-client / {lo}-client aggregate: {dn / d1:.2f}x")
    for k in sorted({ph.clients for ph in phases}):
        ref, ours = by.get((a.reference, k)), by.get(("danlu", k))
        if ref and ours:  # round by round, then the median
            ratios = [o.tok_s / r.tok_s for o, r in zip(ours, ref, strict=True)]
            each = ", ".join(f"{x:.3f}" for x in ratios)
            print(
                f"danlu / {a.reference} at {k} clients: {statistics.median(ratios):.3f}x "
                f"(median of {len(ratios)} rounds: {each})"
            )
    for name, (t1, t2) in cache.items():
        ratio = t2 / t1 if t1 else float("nan")
        print(
            f"{name} prefix cache: first-turn TTFT {t1:.3f} s, second-turn {t2:.3f} s, "
            f"ratio {ratio:.3f}"
        )


if __name__ == "__main__":
    main()

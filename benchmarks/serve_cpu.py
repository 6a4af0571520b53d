"""CPU per streamed token in each thread of `danlu serve`, and in the client.

Starts danlu's server, streams one long greedy answer (end-of-text ignored) after a
warm-up, and reads each server thread's CPU ticks from /proc/<pid>/task/*/stat before
and after. Linux only. The event-loop thread is `danlu`; llama.cpp's compute threads
carry the interpreter's name too, so tell them apart by their share.

    python benchmarks/serve_cpu.py --tokens 1500

To compare uvicorn's pure-Python defaults (asyncio + h11) with uvloop + httptools, run it
once as is and once in a scratch environment after `pip uninstall -y uvloop httptools`:
uvicorn picks whichever is installed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from serve import free_port, start, stream_chat  # benchmarks/ is on sys.path when run as a script

TICK_SECONDS = 1 / os.sysconf("SC_CLK_TCK")
ASK = [{"role": "user", "content": "Write a long story about a lighthouse."}]


def thread_ticks(pid: int) -> dict[str, tuple[str, int]]:
    """thread id -> (thread name, user + system clock ticks so far)."""
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks[tid] = (name, int(fields[11]) + int(fields[12]))
    return ticks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, default=1500)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(Path(sys.executable).parent / "danlu"), "serve", "smollm2", "--port", str(port)]
    cmd += ["-t", str(a.threads), "-c", str(a.tokens + 256)]
    env = {**os.environ, "DANLU_HOME": os.environ.get("DANLU_HOME", tempfile.mkdtemp())}
    proc = start(cmd, url, env, "/health")
    try:
        stream_chat(url, ASK, 16, ignore_eos=True)  # warm-up
        before, client_before = thread_ticks(proc.pid), os.times()
        sample = stream_chat(url, ASK, a.tokens, ignore_eos=True)
        after, client_after = thread_ticks(proc.pid), os.times()
    finally:
        proc.terminate()
        proc.wait()
    n = sample.tokens
    print(f"{n} tokens at {sample.decode_rate:.1f} tok/s; CPU per token:")
    for tid, (name, total) in after.items():
        used = total - before.get(tid, (name, 0))[1]
        if used:
            print(f"  {name:20s} thread {tid:>7s}  {used * TICK_SECONDS / n * 1e6:7.0f} us")
    client = sum(client_after[:2]) - sum(client_before[:2])
    print(f"  {'client':20s} {'':15s}  {client / n * 1e6:7.0f} us")


if __name__ == "__main__":
    main()

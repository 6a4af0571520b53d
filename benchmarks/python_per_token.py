"""Python work per generated token in danlu's engine, counted, not timed.

A timer on a shared 2-core machine measures the neighbours as much as the code; a count
of the Python function calls (and calls into C, ctypes included) made per token does not
move with load. It runs one greedy generation of N tokens in process under
`sys.setprofile` and prints calls per token, with the functions that make most of them.

    python benchmarks/python_per_token.py --tokens 64 --slots 1
    python benchmarks/python_per_token.py --tokens 64 --slots 8   # 8 streams at once
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter

import danlu
from danlu.engine.sampling import SamplingParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--slots", type=int, default=1, help="streams generated together")
    parser.add_argument("--top", type=int, default=15)
    a = parser.parse_args()

    with danlu.load(a.model, threads=2, parallel=a.slots, n_ctx=512) as model:
        engine = model.engine
        prompt = engine.tokenize("Write a long story about a lighthouse.", add_bos=True)
        params = SamplingParams(temperature=0, max_tokens=a.tokens, ignore_eos=True)
        list(engine.stream(prompt, params))  # warm up: caches, first-call imports
        engine.reset()
        calls: Counter[str] = Counter()

        def count(frame, event, arg) -> None:
            if event == "call":
                calls[f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_code.co_name}"] += 1
            elif event == "c_call":
                calls[f"C:{getattr(arg, '__qualname__', arg)}"] += 1

        finished: list[object] = []

        def emit(chunk) -> None:  # the counting loop below must cost nothing per token
            if getattr(chunk, "finish_reason", True):
                finished.append(chunk)

        jobs = [engine.job(prompt, params, emit) for _ in range(a.slots)]
        for job in jobs:
            engine.scheduler.submit(job)
        threading.setprofile(count)
        sys.setprofile(count)
        try:
            while len(finished) < a.slots:
                engine.scheduler.step()
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
    tokens = a.tokens * a.slots
    total = sum(calls.values())
    python = sum(n for k, n in calls.items() if not k.startswith("C:"))
    print(f"{tokens} tokens ({a.slots} streams): {total / tokens:.1f} calls per token,")
    print(f"of which {python / tokens:.1f} Python functions and the rest C (ctypes included)")
    print("| function | calls per token |\n| --- | ---: |")
    for name, n in calls.most_common(a.top):
        print(f"| {name} | {n / tokens:.2f} |")


if __name__ == "__main__":
    main()

"""Each thread's share of the wall time in a py-spy raw profile, and its hottest frames.

    python benchmarks/pyspy_threads.py raw.txt --seconds 45 --rate 200

py-spy leaves idle samples out unless asked, so a thread's samples over seconds × rate is
the share of the time it was running (or inside native code called from Python).
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", help="py-spy record -f raw output")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--top", type=int, default=6)
    a = parser.parse_args()
    threads: Counter[str] = Counter()
    leaves: defaultdict[str, Counter[str]] = defaultdict(Counter)
    with open(a.raw, encoding="utf-8") as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            frames = stack.split(";")
            threads[frames[0]] += int(count)
            leaves[frames[0]][frames[-1]] += int(count)
    wall = a.seconds * a.rate
    for thread, n in threads.most_common():
        print(f"{n / wall:6.1%}  {thread}")
        for frame, m in leaves[thread].most_common(a.top):
            print(f"        {m / wall:6.1%}  {frame}")


if __name__ == "__main__":
    main()

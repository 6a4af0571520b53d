#!/bin/bash
# Where a danlu server's time goes under 8 streaming clients: py-spy samples every thread
# of `danlu serve` (8 slots, flash attention on, 2 threads) for 45 s while the clients of
# benchmarks/serve.py run, then prints each thread's share of the wall time and its
# hottest frames. Run it on a quiet machine:  bash benchmarks/profile_serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8777}
OUT=$(mktemp -d)
export DANLU_HOME="$OUT/home"
.venv/bin/danlu serve smollm2 --parallel 8 -fa on -t 2 -c 2048 --port "$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 1; done
load() { .venv/bin/python -c "
import sys; sys.path.insert(0, 'benchmarks')
from serve import phase
for _ in range($1): print(phase('danlu', 'http://127.0.0.1:$PORT', 8, 4, 64))"; }
load 1  # warm-up
.venv/bin/py-spy record -p "$SERVER" --threads -r 200 -d 45 -f raw -o "$OUT/raw.txt" \
    --nonblocking >"$OUT/py-spy.log" 2>&1 &
SPY=$!
load 3
wait $SPY
.venv/bin/python benchmarks/pyspy_threads.py "$OUT/raw.txt" --seconds 45 --rate 200

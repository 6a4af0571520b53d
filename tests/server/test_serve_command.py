"""`danlu serve` started as users start it: a real process, its flags, --port 0, SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

DANLU = str(Path(sys.executable).parent / "danlu")
FLAGS = ("--port", "0", "-c", "512", "-np", "1", "-t", "2", "--max-queue", "2")


def wait_healthy(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"danlu serve did not become healthy (exit code {proc.poll()})")


def test_serve_prints_its_address_answers_and_stops_cleanly_on_sigterm(tmp_path):
    env = {**os.environ, "DANLU_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [DANLU, "serve", "smollm2", *FLAGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = proc.stdout.readline()  # printed once the port is bound
        match = re.fullmatch(r"danlu serving on (http://127\.0\.0\.1:(\d+)) .*\n", first)
        assert match and int(match.group(2)) > 0, first
        url = match.group(1)
        wait_healthy(url, proc)
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 2,
            "ignore_eos": True,
        }
        r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 2
        ps = httpx.get(f"{url}/api/ps", timeout=60).json()["models"]
        assert [(m["name"], m["context_length"]) for m in ps] == [("smollm2", 512)]  # -c 512
        too_many = httpx.post(f"{url}/v1/chat/completions", json={**body, "n": 4}, timeout=60)
        assert too_many.status_code == 400  # -np 1 and --max-queue 2: 3 at once at most
        assert "at most 3 at once" in too_many.json()["error"]["message"]
        stream = {**body, "max_tokens": 4000, "stream": True}
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=stream, timeout=60) as r:
            lines = r.iter_lines()
            started = [next(lines) for _ in range(3)]  # the answer is being written
            proc.send_signal(signal.SIGTERM)
            events = [json.loads(line[6:]) for line in [*started, *lines] if line[6:7] == "{"]
        assert events[-1]["error"]["code"] == "shutting_down"  # ended at once, in-band
        # uvicorn re-raises the signal once it has shut down, so the status says why the
        # server stopped, as a shell or service manager expects (143 in a shell)
        assert proc.wait(timeout=30) == -signal.SIGTERM
        assert proc.stderr.read() == ""  # no traceback, no noise
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()

"""`danlu bench serve URL`: concurrent streaming clients against any OpenAI-compatible server.

For each concurrency level, that many clients send streaming chat completions, one after
another, until `requests` have been sent (or `time_limit` has passed). Per request: time to
first token (TTFT), time per output token after the first (TPOT), and the gaps between
streamed tokens (ITL). Per level: requests/s, output tokens/s, those latencies as mean,
p50, p90 and p99, and the errors. Output tokens are counted from the server's reported
usage when it sends one (`stream_options.include_usage`), else one per content chunk.

Bounded by design: a request count and a time limit, and only the URL given.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from danlu.bench.stats import latency_summary
from danlu.config import Settings
from danlu.errors import DanluError, InvalidRequest
from danlu.progress import Progress

TOPICS = (
    "a lighthouse", "a dragon", "a lost key", "the sea", "a robot", "a forest",
    "a storm", "a market", "a clock", "a river", "a train", "a garden",
)  # fmt: skip
BUILTIN_PROMPTS = [f"Write a short story about {topic}." for topic in TOPICS] + [
    f"用三句话描述{topic}。" for topic in ("长城", "西湖", "熊猫", "茶")
]


class ServerUnreachable(DanluError):
    """Nothing answers at the URL: no level is run (a table of zeros would say nothing)."""

    status = 502
    code = "server_unreachable"


class LoadSettings(BaseModel):
    """What `danlu bench serve` sends; the CLI flags fill this."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Base URL of the server (http://host:port or .../v1).")
    model: str = Field(
        default_factory=lambda: Settings().default_model,
        description="Model name sent in each request; default DANLU_DEFAULT_MODEL.",
    )
    concurrency: list[int] = Field([1, 4, 8], description="Client counts, one level each.")
    requests: int = Field(32, ge=1, le=10_000, description="Requests per level.")
    max_tokens: int = Field(128, ge=1, description="Tokens asked for per request.")
    time_limit: float = Field(300.0, gt=0, description="Seconds per level at most.")
    prompts: Path | None = Field(None, description="One prompt per line (default: built in).")
    api_key: str | None = Field(None, description="Bearer key, if the server wants one.")
    usage: bool = Field(
        True,
        description="Ask for a final usage chunk (stream_options); off for servers "
        "that refuse it, and tokens are then counted one per content chunk.",
    )


@dataclass
class Sample:
    started: float
    stamps: list[float] = field(default_factory=list)  # arrival of each content chunk
    tokens: int = 0
    error: str | None = None

    @property
    def ttft(self) -> float | None:
        return self.stamps[0] - self.started if self.stamps else None

    @property
    def tpot(self) -> float | None:
        if self.tokens < 2 or not self.stamps:
            return None
        return (self.stamps[-1] - self.stamps[0]) / (self.tokens - 1)

    @property
    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.stamps, self.stamps[1:], strict=False)]


def read_prompts(path: Path | None) -> list[str]:
    if path is None:
        return BUILTIN_PROMPTS
    try:
        prompts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read prompts from {path}: {exc}") from None
    prompts = [p for p in prompts if p]
    if not prompts:
        raise InvalidRequest(f"{path} holds no prompts", hint="one prompt per line")
    return prompts


def chat_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise InvalidRequest(f"'{url}' is not an http(s) URL", hint="e.g. http://127.0.0.1:8585")
    return url.rstrip("/").removesuffix("/v1") + "/v1/chat/completions"


def stream_one(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> Sample:
    """One streamed chat completion, read with the standard library's lean HTTP client so
    that the load generator takes as little CPU from a server on the same machine as it can."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    sample = Sample(time.perf_counter())
    try:
        conn.request(
            "POST",
            parts.path,
            json.dumps(body),
            {"content-type": "application/json", "connection": "close", **headers},
        )
        response = conn.getresponse()
        if response.status != 200:
            sample.error = f"HTTP {response.status}"
            return sample
        while line := response.fp.readline():
            if line.startswith(b"data: [DONE]"):
                break
            _read_event(line.decode("utf-8", "replace"), sample)
    except (OSError, http.client.HTTPException) as exc:
        sample.error = type(exc).__name__
    finally:
        conn.close()
    if not sample.tokens:
        sample.tokens = len(sample.stamps)
    return sample


def check_reachable(url: str, timeout: float = 10.0) -> None:
    """ServerUnreachable, saying why, unless something accepts a connection at `url`."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", port), timeout).close()
    except OSError as exc:
        raise ServerUnreachable(
            f"cannot reach {url}: {_why(exc, timeout)}",
            hint="is the server running? start one with `danlu serve`",
        ) from None


def _why(exc: OSError, timeout: float) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, TimeoutError):
        return f"no answer in {timeout:g} s"
    return exc.strerror or type(exc).__name__


def chat_body(settings: LoadSettings, messages: list[dict[str, str]], **extra: Any) -> dict:
    return {
        "model": settings.model,
        "messages": messages,
        "max_tokens": settings.max_tokens,
        "temperature": 0,
        "stream": True,
        **({"stream_options": {"include_usage": True}} if settings.usage else {}),
        **extra,
    }


def _read_event(line: str, sample: Sample) -> None:
    if not line.startswith("data: {"):
        return
    event = json.loads(line[6:])
    if event.get("error"):
        sample.error = str(event["error"].get("message", "error"))[:80]
    usage = event.get("usage")
    if usage:
        sample.tokens = int(usage.get("completion_tokens") or 0)
    for choice in event.get("choices") or ():
        if (choice.get("delta") or {}).get("content"):
            sample.stamps.append(time.perf_counter())


def run_level(
    settings: LoadSettings,
    clients: int,
    prompts: list[str],
    progress: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """One concurrency level: the report row; `progress()` after each request."""
    url, samples, lock = chat_url(settings.url), [], threading.Lock()
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    deadline = time.perf_counter() + settings.time_limit
    counter = iter(range(settings.requests))

    def client_loop() -> None:
        while time.perf_counter() < deadline:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            ask = [{"role": "user", "content": prompts[index % len(prompts)]}]
            sample = stream_one(url, chat_body(settings, ask), headers, settings.time_limit)
            with lock:
                samples.append(sample)
            if progress:
                progress()

    began = time.perf_counter()
    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summarise(clients, samples, time.perf_counter() - began)


def summarise(clients: int, samples: list[Sample], wall: float) -> dict[str, Any]:
    ok = [s for s in samples if s.error is None and s.stamps]
    errors = [s.error or "no tokens" for s in samples if s not in ok]
    return {
        "concurrency": clients,
        "requests": len(samples),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "seconds": wall,
        "requests_per_second": len(ok) / wall if wall else 0.0,
        "output_tokens_per_second": sum(s.tokens for s in ok) / wall if wall else 0.0,
        "ttft": latency_summary([s.ttft for s in ok if s.ttft is not None]),
        "tpot": latency_summary([s.tpot for s in ok if s.tpot is not None]),
        "itl": latency_summary([g for s in ok for g in s.gaps]),
    }


def bench_server(settings: LoadSettings, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Every concurrency level in turn, once the server is known to be there; each request
    done is told to `progress` ("bench serve URL", done, all)."""
    prompts = read_prompts(settings.prompts)
    chat_url(settings.url)  # an http(s) URL, checked before it is dialled
    check_reachable(settings.url)
    total, done, lock = settings.requests * len(settings.concurrency), 0, threading.Lock()

    def one_more() -> None:
        nonlocal done
        with lock:
            done += 1
            if progress:
                progress(f"bench serve {settings.url}", done, total)

    return [run_level(settings, level, prompts, one_more) for level in settings.concurrency]


def repeats_prompts(settings: LoadSettings) -> bool:
    """More requests than prompts: a server's prefix cache may flatter TTFT."""
    return settings.requests > len(read_prompts(settings.prompts))

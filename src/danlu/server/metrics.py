"""Prometheus metrics for one server instance (its own registry: no process globals)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from danlu.engine.base import Usage

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """Counters, gauges and histograms exposed at GET /metrics."""

    def __init__(self, queue_depth: Callable[[], float], active_slots: Callable[[], float]):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "danlu_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.prompt_tokens = Counter("danlu_prompt_tokens", "Prompt tokens received", registry=r)
        self.generated_tokens = Counter("danlu_generated_tokens", "Tokens generated", registry=r)
        self.cached_tokens = Counter(
            "danlu_prefix_cache_tokens", "Prompt tokens served from the prefix cache", registry=r
        )
        self.prefix_hits = Counter(
            "danlu_prefix_cache_hits", "Requests that reused a cached prefix", registry=r
        )
        self.cancelled = Counter(
            "danlu_cancelled_requests", "Requests whose client went away", registry=r
        )
        self.ttft = Histogram(
            "danlu_time_to_first_token_seconds",
            "Time to first token",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.itl = Histogram(
            "danlu_inter_token_latency_seconds",
            "Mean time per output token of a request",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        Gauge("danlu_queue_depth", "Requests waiting for a slot", registry=r).set_function(
            queue_depth
        )
        Gauge("danlu_active_slots", "Slots generating now", registry=r).set_function(active_slots)

    def record_usage(self, usage: Usage, ttft: float | None, duration: float) -> None:
        self.prompt_tokens.inc(usage.prompt_tokens)
        self.generated_tokens.inc(usage.completion_tokens)
        if usage.cached_tokens:
            self.cached_tokens.inc(usage.cached_tokens)
            self.prefix_hits.inc()
        if ttft is not None:
            self.ttft.observe(ttft)
            if usage.completion_tokens > 1:
                self.itl.observe((duration - ttft) / (usage.completion_tokens - 1))

    def render(self) -> bytes:
        return generate_latest(self.registry)

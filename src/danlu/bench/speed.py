"""`danlu bench MODEL`: prompt processing (pp) and generation (tg) speed, llama-bench style.

For each thread count and batch size the model is loaded once, then every test runs
`reps` times after one unmeasured warm-up:
* ppN: N prompt tokens decoded into an empty cache (or after `depth` cached tokens);
* tgN: N tokens generated greedily, end-of-generation ignored, timed from the first
  token to the last (the prompt is not counted).
A depth d first fills the KV cache with d tokens, which the test's prompt then extends:
speed with a long conversation already in context.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from pydantic import BaseModel, ConfigDict, Field

from danlu.bench.isolate import isolated
from danlu.bench.stats import Spread
from danlu.config import Settings
from danlu.engine.base import BatchSize, FlashAttn, LoadOptions, Threads
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.engine.llamacpp.machine import REPACK_OFF_AMX, resolve_repack
from danlu.engine.sampling import SamplingParams
from danlu.errors import BackendError, InvalidRequest
from danlu.progress import Progress
from danlu.store import Catalog
from danlu.store.tuning import label

FILLER = "The furnace burns steadily while the alchemist records every step in a notebook. "


class SpeedSettings(BaseModel):
    """What `danlu bench` measures; the CLI flags fill this."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: list[int] = Field([512], description="pp test sizes (-p); 0 skips pp.")
    gen_tokens: list[int] = Field([128], description="tg test sizes (-n); 0 skips tg.")
    reps: int = Field(5, ge=1, le=100, description="Measured repetitions per test (-r).")
    threads: list[Threads] = Field(default_factory=list, description="Thread counts (-t).")
    batch: list[BatchSize] = Field([512], description="Batch sizes (-b).")
    depth: list[int] = Field([0], description="Tokens already in the KV cache (-d).")
    flash_attn: list[FlashAttn] = Field(["auto"], description="Flash attention settings (-fa).")
    repack: list[bool | None] = Field(
        [None], description="Repack settings (--repack); None: the machine's rule."
    )


@dataclass(frozen=True)
class SpeedRow:
    """One line of the table: a test at one setting, in tokens per second."""

    model: str
    size_mb: float
    threads: int
    n_batch: int
    test: str
    tokens_per_second: Spread
    flash_attn: str = "off"
    repack: str = "on"

    def as_dict(self) -> dict:
        row = asdict(self)
        row["tokens_per_second"] = asdict(self.tokens_per_second)
        return row


def filler_tokens(engine: LlamaCppEngine, n: int) -> list[int]:
    tokens: list[int] = []
    while len(tokens) < n:
        tokens += engine.tokenize(FILLER)
    return tokens[:n]


def time_pp(engine: LlamaCppEngine, prefix: list[int], tokens: list[int]) -> float:
    """tok/s of decoding `tokens` after `prefix`, which is put in the cache first."""
    engine.reset()
    once = SamplingParams(temperature=0, max_tokens=1, ignore_eos=True)
    if prefix:
        list(engine.stream(prefix, once))
    final = list(engine.stream(prefix + tokens, once))[-1]
    assert final.timing is not None
    return len(tokens) / final.timing.prompt_seconds


def time_tg(engine: LlamaCppEngine, prefix: list[int], n: int) -> float:
    """tok/s of generating n tokens after `prefix` (+ a short prompt), first to last token."""
    engine.reset()
    prompt = prefix + filler_tokens(engine, 8)
    params = SamplingParams(temperature=0, max_tokens=n + 1, ignore_eos=True)
    stamps = [time.perf_counter() for chunk in engine.stream(prompt, params) if chunk.token_ids]
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def _tests(settings: SpeedSettings) -> Iterator[tuple[str, int, int]]:
    """(kind, tokens, depth) of every test."""
    for depth in settings.depth:
        for n in settings.prompt_tokens:
            if n:
                yield "pp", n, depth
        for n in settings.gen_tokens:
            if n:
                yield "tg", n, depth


def context_needed(settings: SpeedSettings, limit: int) -> int:
    """The context the longest test needs (a little spare), within the model's `limit`."""
    longest = max(settings.depth) + max(*settings.prompt_tokens, *settings.gen_tokens, 8) + 16
    if longest > limit:
        raise InvalidRequest(
            f"a test needs {longest} tokens of context, the model holds {limit}",
            hint="use smaller -p/-n/-d values",
        )
    return max(longest, 64)


def bench_model(
    name: str,
    settings: SpeedSettings,
    danlu_settings: Settings | None = None,
    progress: Progress | None = None,
    isolate: bool = True,
    on_failure: Callable[[str], None] | None = None,
) -> list[SpeedRow]:
    """Every test of `settings` on the store model `name`; each measurement done is told
    to `progress` ("bench NAME", done, all).

    A setting this machine's rule keeps off (repack on a CPU with AMX, whose kernels may
    crash) is measured in a child process of its own (`isolate`); one that dies there is
    told to `on_failure` ('fa off, repack on died by SIGILL') and the others are still
    measured. Without `on_failure` that is a BackendError.
    """
    danlu_settings = danlu_settings or Settings()
    catalog = Catalog(danlu_settings)
    manifest, path = catalog.gguf_path(
        name,
        done="measured by danlu bench",
        hint="export it to GGUF first, or measure it served with 'danlu bench serve URL'",
    )
    size_mb = path.stat().st_size / 2**20
    tests = list(_tests(settings))
    plan = [
        (t, b, fa, rp)
        for t in (settings.threads or [danlu_settings.threads])
        for b in settings.batch
        for fa in settings.flash_attn
        for rp in settings.repack
    ]
    n_ctx = context_needed(settings, manifest.context_length or danlu_settings.n_ctx)
    per_setting = len(tests) * settings.reps
    risky = isolate and not resolve_repack(None)  # this machine keeps repack off by default
    rows: list[SpeedRow] = []
    for i, (threads, n_batch, fa, repack) in enumerate(plan):

        def told(count: int, offset: int = i * per_setting) -> None:
            if progress:
                progress(f"bench {name}", offset + count, len(plan) * per_setting)

        if repack and risky:
            one = {"threads": [threads], "batch": [n_batch], "flash_attn": [fa], "repack": [True]}
            got = isolated(_alone, name, settings.model_copy(update=one), danlu_settings, told)
            if isinstance(got, str):
                _failed(f"{name}: {label(fa, True)} {got} ({REPACK_OFF_AMX})", on_failure)
                continue
            rows += got
            continue
        options = LoadOptions.build(
            n_ctx=n_ctx, threads=threads, n_batch=n_batch, flash_attn=fa, repack=repack
        )
        engine = LlamaCppEngine(path, options)
        head = (name, size_mb, threads, n_batch)
        rows += _measure(engine, head, fa, tests, settings.reps, told)
    return rows


def _measure(
    engine: LlamaCppEngine,
    head: tuple[str, float, int, int],
    flash_attn: str,
    tests: list[tuple[str, int, int]],
    reps: int,
    told: Callable[[int], None],
) -> list[SpeedRow]:
    """Each test `reps` times after one warm-up, on a loaded engine (closed after);
    `head` is the rows' model, size, threads and batch."""
    setting = {"flash_attn": flash_attn, "repack": engine.facts["repack"]}
    rows, done = [], 0
    try:
        for kind, n, depth in tests:
            rates = []
            run = _runner(engine, kind, n, depth)
            run()  # warm-up, not counted
            for _ in range(reps):
                rates.append(run())
                done += 1
                told(done)
            test = f"{kind}{n}" + (f" @ d{depth}" if depth else "")
            spread = Spread.of(rates)
            rows.append(SpeedRow(*head, test, spread, **setting))
    finally:
        engine.close()
    return rows


def _alone(
    name: str, settings: SpeedSettings, danlu_settings: Settings, progress: Progress
) -> list[SpeedRow]:
    """bench_model in the child of `isolated` (which does not isolate again)."""
    return bench_model(name, settings, danlu_settings, progress, isolate=False)


def _failed(message: str, on_failure: Callable[[str], None] | None) -> None:
    if on_failure is None:
        raise BackendError(message, hint="leave repack off on this CPU (the default)")
    on_failure(message)


def _runner(engine: LlamaCppEngine, kind: str, n: int, depth: int) -> Callable[[], float]:
    prefix = filler_tokens(engine, depth)
    if kind == "pp":
        tokens = filler_tokens(engine, n)
        return lambda: time_pp(engine, prefix, tokens)
    return lambda: time_tg(engine, prefix, n)

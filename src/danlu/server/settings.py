"""ServerSettings: one object fed by CLI flags, DANLU_* environment variables and a config file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ByteSize, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from danlu.engine.base import (
    BatchSize,
    CacheRam,
    ContextLength,
    FlashAttn,
    KvCacheType,
    LoadOptions,
    MicroBatch,
    Parallel,
    RopeScaling,
    Threads,
)
from danlu.engine.sampling import describe_validation_error
from danlu.errors import InvalidParameter
from danlu.kb.policy import MAX_FILE_SIZE
from danlu.server.sites import ANY, host_name, origin_key


class ServerSettings(BaseSettings):
    """How `danlu serve` listens, whom it lets in, and how it runs models."""

    model_config = SettingsConfigDict(env_prefix="DANLU_", extra="forbid")

    host: str = Field("127.0.0.1", description="Address to bind; loopback unless opened.")
    port: int = Field(8585, ge=0, le=65535, description="TCP port (0 picks a free one).")
    models: list[str] = Field(
        default_factory=list, description="Models to load at start; others load on demand."
    )
    parallel: Parallel = Field(4, description="Requests decoded together per model.")
    n_ctx: ContextLength | None = Field(
        None,
        description="Context length per request slot (default: DANLU_N_CTX or 4096, within "
        "each model's trained context).",
    )
    threads: Threads | None = Field(None, description="CPU threads (default: physical cores).")
    # Engine knobs: None leaves each to LoadOptions' default (docs/engine.md says why).
    threads_batch: Threads | None = Field(None, description="Threads for prompt processing.")
    flash_attn: FlashAttn | None = Field(None, description="Flash attention: on, off or auto.")
    repack: bool | None = Field(
        None, description="Repack weights for the CPU's fast kernels (default: see danlu show)."
    )
    n_batch: BatchSize | None = Field(None, description="Prompt tokens per decode call.")
    n_ubatch: MicroBatch | None = Field(None, description="Micro-batch size.")
    cache_type_k: KvCacheType | None = Field(None, description="K cache type.")
    cache_type_v: KvCacheType | None = Field(None, description="V cache type.")
    mlock: bool | None = Field(None, description="Lock the weights in RAM.")
    mmap: bool | None = Field(None, description="Map model files (false: read them).")
    rope_scaling: RopeScaling | None = Field(None, description="RoPE scaling method.")
    rope_scale: float | None = Field(None, gt=0, description="RoPE context scaling factor.")
    rope_freq_base: float | None = Field(None, gt=0, description="RoPE base frequency.")
    yarn_orig_ctx: int | None = Field(None, ge=1, description="YaRN original context.")
    cache_ram: CacheRam | None = Field(
        None, description="MiB of RAM for saved prompt states (default 8192; 0: off)."
    )
    max_queue: int = Field(
        64,
        ge=0,
        description="Generations (one per prompt × n) waiting for a slot before new requests "
        "get 503.",
    )
    request_timeout: float = Field(600.0, gt=0, description="Seconds one request may take.")
    shutdown_grace: float = Field(
        5.0, ge=0, description="Seconds running requests get to finish when the server stops."
    )
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Largest request body.")
    api_keys: list[str] = Field(
        default_factory=list, description="Accepted bearer keys; empty means no auth."
    )
    api_key_file: Path | None = Field(
        None, description="File with one API key per line ('#' comments); must hold a key."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Web pages (scheme://host[:port]; '*': any) that may call the server from "
        "a browser and read its answers (CORS), beside pages on this machine and its own.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the server answers to ('*': any), beside addresses, localhost, "
        "names without a dot or under .local/.internal, and the bound name.",
    )
    keep_alive: float = Field(
        300.0, description="Seconds an idle model stays loaded (negative: forever)."
    )
    max_loaded: int = Field(2, ge=1, description="Models kept loaded at once (LRU unloads).")
    memory_budget_mb: int = Field(
        0, ge=0, description="Unload least-recently-used models above this size (0: no limit)."
    )
    kb_roots: list[Path] = Field(
        default_factory=list,
        description="Folders whose files POST /v1/kb/NAME/add may read, with everything under "
        "them; none by default, so the route reads no file until one is given.",
    )
    kb_max_file_size: ByteSize = Field(
        MAX_FILE_SIZE,
        ge=1,
        description="Files larger than this are skipped by /v1/kb/NAME/add, each with a line "
        "in its report (bytes, or a size such as 200MB).",
    )
    kb_max_add_size: ByteSize = Field(
        ByteSize(256_000_000),
        ge=1,
        description="Most bytes of new or changed files one /v1/kb/NAME/add may read; more is "
        "a 413 before anything is read.",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != ANY and origin_key(origin) is None:
                raise PydanticCustomError(
                    "origin",
                    "'{origin}' is not an origin: give scheme://host[:port] "
                    "(http://localhost:3000) or '*'",
                    {"origin": origin},
                )
        return origins

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if host != ANY and host_name(host) is None:
                raise PydanticCustomError(
                    "host",
                    "'{host}' is not a host name: give one such as llm.example",
                    {"host": host},
                )
        return hosts

    def engine_options(self) -> dict[str, Any]:
        """The engine knobs that are set, as keyword arguments of danlu.load()."""
        knobs = {name: getattr(self, name) for name in ENGINE_KNOBS}
        return {name: value for name, value in knobs.items() if value is not None}

    def keys(self) -> set[str]:
        """Every accepted API key, from the settings and the key file."""
        keys = set(self.api_keys)
        if self.api_key_file is not None:
            keys |= read_key_file(self.api_key_file)
        return keys

    @classmethod
    def build(cls, config_file: Path | None = None, **overrides: Any) -> ServerSettings:
        """Settings: flags win over the JSON config file, which wins over env vars and defaults."""
        data: dict[str, Any] = {}
        if config_file is not None:
            try:
                data = json.loads(config_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InvalidParameter(f"cannot read config file '{config_file}': {exc}") from None
        data.update({k: v for k, v in overrides.items() if v is not None and v != []})
        try:
            settings = cls(**data)
        except ValidationError as exc:
            raise InvalidParameter(describe_validation_error(exc)) from None
        settings.keys()  # a key file that is unreadable or empty fails here, before binding
        return settings


# what the pool gives danlu.load() by name; every other ServerSettings field that is
# also a LoadOptions field is an engine knob, passed on as it is
POOL_ARGUMENTS = ("n_ctx", "threads", "parallel")
ENGINE_KNOBS = tuple(
    name
    for name in ServerSettings.model_fields
    if name in LoadOptions.model_fields and name not in POOL_ARGUMENTS
)


def read_key_file(path: Path) -> set[str]:
    """The keys in `path`, one a line, blank lines and '#' comments skipped.

    A file that cannot be read or holds no key is an error: either would leave the server
    open while its owner believes it is locked.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InvalidParameter(
            f"cannot read API key file '{path}': {reason}",
            hint="give a readable file with one key per line",
        ) from None
    keys = {line.strip() for line in lines if line.strip() and not line.strip().startswith("#")}
    if not keys:
        raise InvalidParameter(
            f"API key file '{path}' holds no key",
            hint="put one key per line ('#' starts a comment), or leave --api-key-file out",
        )
    return keys

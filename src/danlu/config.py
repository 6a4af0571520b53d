"""Settings shared by every part of danlu: where data lives and engine defaults.

One pydantic-settings class; each field is read from a `DANLU_<FIELD>` environment
variable (e.g. `DANLU_HOME`) and can be overridden by the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from danlu.engine.base import ContextLength, FlashAttn, GpuLayers, Threads
from danlu.engine.sampling import describe_validation_error
from danlu.errors import InvalidParameter
from danlu.system import cpu


class EnvSettings(BaseSettings):
    """A settings class read from environment variables (its model_config's env_prefix):
    a bad variable is a user's mistake, so it is one typed error naming the prefix, not a
    traceback."""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            prefix = self.model_config.get("env_prefix", "")
            raise InvalidParameter(
                describe_validation_error(exc), hint=f"check the {prefix}* environment variables"
            ) from None


class Settings(EnvSettings):
    """Where danlu keeps its data and how it runs models by default."""

    model_config = SettingsConfigDict(env_prefix="DANLU_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path.home() / ".danlu",
        description="Data directory: models/, kb/, runs/, sessions/ (env DANLU_HOME).",
    )
    default_model: str = Field(
        "smollm2", description="Model used when a command names none (env DANLU_DEFAULT_MODEL)."
    )
    n_ctx: ContextLength = Field(
        4096, description="Default context length in tokens, capped by the model's own."
    )
    threads: Threads = Field(
        default_factory=lambda: cpu().physical,
        description="CPU threads for generation; defaults to the physical core count.",
    )
    gpu_layers: GpuLayers = Field(
        0, description="Layers to offload to a GPU build of llama.cpp (-1: all)."
    )
    flash_attn: FlashAttn | None = Field(
        None,
        description="Flash attention on|off|auto for every load without -fa (env "
        "DANLU_FLASH_ATTN); None: measured, else llama.cpp's auto (docs/engine.md).",
    )
    repack: bool | None = Field(
        None,
        description="Repack weights for this CPU's fast kernels, for every load without "
        "--repack/--no-repack (env DANLU_REPACK); None: measured, else on except on CPUs "
        "with AMX (docs/engine.md).",
    )

    # The layout of DANLU_HOME: every module finds its folder here, none joins its own.
    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def sessions_dir(self) -> Path:
        return self.home / "sessions"

    @property
    def runs_dir(self) -> Path:
        """Training and evaluation runs, one folder each."""
        return self.home / "runs"

    @property
    def kb_dir(self) -> Path:
        """Knowledge bases, one folder each."""
        return self.home / "kb"

    @property
    def cache_dir(self) -> Path:
        """What can be rebuilt (dequantized training bases, and their f16 GGUFs)."""
        return self.home / "cache"

    @property
    def prompts_dir(self) -> Path:
        """The prompt library's own prompts, one JSON file each (built-ins ship in the package)."""
        return self.home / "prompts"

    @property
    def agents_dir(self) -> Path:
        """Agent runs' JSONL traces, one file per run (docs/agent.md)."""
        return self.home / "agents"

    @property
    def ui_dir(self) -> Path:
        """The web page's jobs, uploads, charts and gradio's own files."""
        return self.home / "ui"

    def find_folder(self, ref: str, marker: str) -> Path | None:
        """The folder `ref` that holds the file `marker` (a run's run.json or manifest.json):
        `ref` as a path, or under runs/ (a run id), or under DANLU_HOME (`runs/ID`)."""
        for folder in (Path(ref).expanduser(), self.runs_dir / ref, self.home / ref):
            if (folder / marker).is_file():
                return folder
        return None

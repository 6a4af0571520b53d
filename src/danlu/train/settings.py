"""The settings of a training run: one pydantic object per stage, documented at each field.

The CLI flags and YAML recipes fill the same object (`from_sources`: the recipe first,
then the flags that were given), and `danlu.train.sft(settings)` takes it as it is.
A run directory keeps the object it ran with, so a run can be resumed or repeated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from danlu.config import Settings
from danlu.engine.sampling import describe_validation_error
from danlu.errors import InvalidParameter

Method = Literal["lora", "qlora", "full"]
Scheduler = Literal[
    "linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial"
]
Precision = Literal["auto", "fp32", "bf16", "fp16"]


class TrainSettings(BaseModel):
    """What every stage shares: base model, data, method, optimisation and the run."""

    model_config = ConfigDict(extra="forbid")

    # -- what to train on ------------------------------------------------------------------
    model: str = Field(
        default_factory=lambda: Settings().default_model,
        description="Base model: a name in the store (GGUF or HF); default DANLU_DEFAULT_MODEL.",
    )
    data: str = Field(description="Data file (.jsonl/.json/.csv/.parquet) or a hub dataset id.")
    format: str | None = Field(
        None, description="Data format (alpaca, sharegpt, messages, text, dpo); None detects."
    )
    skip_invalid: bool = Field(
        False, description="Train on the good rows when some are bad, instead of refusing."
    )
    template: str | None = Field(
        None, description="Named chat template (chatml, llama3, ...); None uses the model's own."
    )
    # -- how ---------------------------------------------------------------------------------
    method: Method = Field(
        "lora", description="lora (peft adapter), qlora (4-bit base, CUDA only) or full."
    )
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling numerator (alpha / r).")
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Layers that get adapters: 'all-linear' or module names."
    )
    # -- optimisation -------------------------------------------------------------------------
    epochs: float = Field(3.0, gt=0, description="Passes over the data (unless max_steps > 0).")
    max_steps: int = Field(-1, ge=-1, description="Optimizer steps; > 0 overrides epochs.")
    learning_rate: float | None = Field(
        None, gt=0, description="Peak learning rate; None: the stage's rate for the method."
    )
    scheduler: Scheduler = Field("linear", description="Learning-rate schedule after warmup.")
    warmup_ratio: float = Field(0.0, ge=0.0, le=1.0, description="Share of steps warming up.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    batch_size: int = Field(4, ge=1, description="Examples per device per step.")
    grad_accum: int = Field(1, ge=1, description="Batches accumulated into one optimizer step.")
    max_length: int = Field(
        512, ge=16, description="Longest sequence in tokens; longer examples are cut."
    )
    packing: bool = Field(False, description="Pack short examples into max_length sequences.")
    eval_split: float = Field(
        0.0, ge=0.0, lt=1.0, description="Share of rows held out for evaluation loss."
    )
    seed: int = Field(42, ge=0, description="Seed for initialisation, shuffling and dropout.")
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass: less memory, slower."
    )
    precision: Precision = Field(
        "auto", description="auto: bf16 on a GPU that has it, else fp32; or force one."
    )
    threads: int | None = Field(None, ge=1, description="CPU threads for torch; None: all.")
    # -- the run ------------------------------------------------------------------------------
    run: str | None = Field(
        None, description="Run id (folder under DANLU_HOME/runs); None makes a new one."
    )
    resume: bool = Field(
        False, description="Continue the run from its last checkpoint (the newest run if no id)."
    )
    save_steps: int = Field(50, ge=1, description="Write a checkpoint every this many steps.")
    save_total_limit: int = Field(2, ge=1, description="Checkpoints kept (oldest removed).")
    logging_steps: int = Field(1, ge=1, description="Log metrics every this many steps.")
    accelerate_config: str | None = Field(
        None,
        description="Recorded for multi-GPU runs started with `accelerate launch` (see docs).",
    )

    # The rate each method starts from when none is given: adapters take large steps (a
    # small set is learned in a few epochs), a whole model small ones.
    DEFAULT_RATES: ClassVar[dict[str, float]] = {"lora": 1e-3, "qlora": 2e-4, "full": 2e-5}

    @model_validator(mode="after")
    def _lora_only_options(self) -> TrainSettings:
        if self.method == "full" and self.target_modules != "all-linear":
            raise ValueError("target_modules applies to lora and qlora, not full fine-tuning")
        if self.learning_rate is None:
            self.learning_rate = self.DEFAULT_RATES[self.method]
        return self

    @classmethod
    def from_sources(cls, recipe: Path | str | None = None, **flags: Any) -> TrainSettings:
        """The recipe's values, overridden by every flag that is not None."""
        values = read_recipe(recipe) if recipe else {}
        values.pop("stage", None)
        values.update({k: v for k, v in flags.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            where = f" (in {recipe})" if recipe else ""
            raise InvalidParameter(describe_validation_error(exc) + where) from None


class SFTSettings(TrainSettings):
    """Supervised fine-tuning: learn to write the assistant's turns."""

    stage: Literal["sft"] = Field("sft", description="The training stage.")
    assistant_only: bool = Field(
        True, description="Loss on the assistant's tokens only (False: on every token)."
    )


class DPOSettings(TrainSettings):
    """Direct preference optimisation: prefer the chosen answer over the rejected one."""

    stage: Literal["dpo"] = Field("dpo", description="The training stage.")
    DEFAULT_RATES: ClassVar[dict[str, float]] = {"lora": 5e-5, "qlora": 5e-5, "full": 1e-6}
    epochs: float = Field(1.0, gt=0, description="Passes over the data (unless max_steps > 0).")
    beta: float = Field(0.1, gt=0, description="Strength of the pull towards the base model.")
    loss_type: Literal["sigmoid", "ipo", "hinge"] = Field("sigmoid", description="DPO loss.")


def read_recipe(path: Path | str) -> dict[str, Any]:
    """A YAML recipe as a dict; a missing file or bad YAML is one InvalidParameter."""
    from danlu.extras import require

    yaml = require("yaml", "train", "reading recipes")
    path = Path(path).expanduser()
    if not path.is_file():
        path = _shipped_recipe(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidParameter(f"cannot read recipe {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidParameter(f"recipe {path} must be a mapping of settings")
    return data


def _shipped_recipe(path: Path) -> Path:
    """A name like 'smollm2-lora' (or recipes/smollm2-lora.yaml) finds a shipped recipe."""
    shipped = Path(__file__).parent / "recipes" / (path.stem + ".yaml")
    if shipped.is_file():
        return shipped
    known = ", ".join(sorted(p.stem for p in shipped.parent.glob("*.yaml")))
    raise InvalidParameter(f"no recipe file {path}", hint=f"shipped recipes: {known}")

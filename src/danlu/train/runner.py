"""One training run from settings to result, shared by every stage.

1. check what needs no model: the hardware the method asks for, every data row, and
   the memory estimate against this machine (each refusal comes before any loading);
2. open the run folder: a new one, or the one being resumed and its last checkpoint;
3. load the base (dequantized once from GGUF), its tokenizer and its chat template;
4. the stage builds its dataset and TRL trainer; train, resuming if asked;
5. save the adapter (or model), the store manifest that makes the run loadable, the
   final record and the loss curve.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from danlu.config import Settings
from danlu.diskspace import disk_full_as_error, is_disk_full
from danlu.progress import Progress
from danlu.train import runs
from danlu.train.base import BaseModelRef, chat_template, dequantize, find_base, load_tokenizer
from danlu.train.data import DataSet, PreferenceExample, TextExample, load_data
from danlu.train.errors import HardwareMissing
from danlu.train.memory import available_memory, estimate, require_fit
from danlu.train.owner import Owner
from danlu.train.render import Renderer
from danlu.train.settings import TrainSettings
from danlu.train.stages import Stage

LIBRARIES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")


@dataclass
class Plan:
    """What step 1 found: the checked data, the base model and the device."""

    settings: TrainSettings
    stage: Stage
    danlu_settings: Settings
    data: DataSet
    base: BaseModelRef
    device: str


@dataclass
class RunContext:
    """What a stage's trainer builder gets."""

    plan: Plan
    run_dir: Path
    tokenizer: Any
    renderer: Renderer
    model: Any
    args: dict[str, Any]  # TrainingArguments fields common to every stage
    data_facts: dict[str, Any] = field(default_factory=dict)  # what the stage saw, for run.json


@dataclass(frozen=True)
class RunResult:
    """A finished run: its folder, id, steps and final metrics."""

    run_dir: Path
    id: str
    steps: int
    metrics: dict[str, float]


# -- 1. checks before any work ---------------------------------------------------------------


def device_for(settings: TrainSettings) -> str:
    """cuda when there is one; refuses QLoRA and fp16 where they cannot run."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if settings.method == "qlora":
        has_bnb = importlib.util.find_spec("bitsandbytes") is not None
        if device != "cuda" or not has_bnb:
            missing = "a CUDA GPU" if device != "cuda" else "bitsandbytes"
            raise HardwareMissing(
                f"QLoRA needs a CUDA GPU and bitsandbytes; this machine lacks {missing}",
                hint="use --method lora (it trains on a CPU too)",
            )
    if settings.precision == "fp16" and device != "cuda":
        raise HardwareMissing("fp16 training needs a CUDA GPU", hint="use --precision auto")
    return device


def check(settings: TrainSettings, stage: Stage, danlu_settings: Settings) -> Plan:
    """Step 1: hardware, data and memory, in that order; nothing is loaded."""
    device = device_for(settings)
    data = load_data(settings.data, settings.format, skip_invalid=settings.skip_invalid)
    data.require_clean(stage.kinds)
    base = find_base(settings.model, danlu_settings)
    weight_bytes = 2 if precision(settings, device) != "fp32" else 4
    longest = min(settings.max_length, max(map(approx_tokens, data.examples)))
    tokens = settings.batch_size * longest * stage.sequences
    needed = estimate(
        base.shape,
        method=settings.method,
        weight_bytes=weight_bytes,
        tokens_per_step=tokens,
        checkpointing=settings.gradient_checkpointing,
    )
    require_fit(needed, available_memory(device), "the GPU" if device == "cuda" else "this machine")
    return Plan(settings, stage, danlu_settings, data, base, device)


def approx_tokens(example: Any) -> int:
    """A generous token count from the characters (about 3 per token, plus the template's
    markers), for the memory estimate before any tokenizer loads."""
    if isinstance(example, TextExample):
        return len(example.text) // 3 + 8
    turns = list(getattr(example, "messages", getattr(example, "prompt", ())))
    chars = sum(len(m.content) for m in turns)
    if isinstance(example, PreferenceExample):
        chars += max(len(example.chosen), len(example.rejected))
    return chars // 3 + 16 * (len(turns) + 1) + 32


def precision(settings: TrainSettings, device: str) -> str:
    if settings.precision != "auto":
        return settings.precision
    import torch

    return "bf16" if device == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


# -- 2. the run folder ----------------------------------------------------------------------


def open_run(plan: Plan) -> tuple[Path, runs.RunRecord, Path | None]:
    """A new run folder and record, or the resumed one with its last checkpoint."""
    settings, danlu_settings, stage = plan.settings, plan.danlu_settings, plan.stage.name
    if settings.resume:
        run_dir, record = runs.run_to_resume(danlu_settings, stage, settings.run)
        record.status, record.owner = "running", Owner.current()
        runs.write_record(run_dir, record)  # this process owns it now
        return run_dir, record, runs.last_checkpoint(run_dir)
    run_id = settings.run or runs.new_run_id(stage, plan.base.manifest.name)
    run_dir = danlu_settings.runs_dir / run_id
    if run_dir.exists():
        raise runs.RunExists(
            f"run '{run_id}' exists already", hint="resume it with --resume, or pick another --run"
        )
    run_dir.mkdir(parents=True)
    record = runs.RunRecord(
        id=run_id,
        stage=stage,
        created=runs.now(),
        updated=runs.now(),
        base_model=_base_facts(plan.base),
        data=_data_facts(plan.data),
        template={},
        settings=settings.model_dump(mode="json"),
        versions=library_versions(),
        owner=Owner.current(),
    )
    runs.write_record(run_dir, record)
    return run_dir, record, None


def _base_facts(base: BaseModelRef) -> dict[str, Any]:
    m = base.manifest
    return {"name": m.name, "format": m.format, "sha256": m.sha256, "source": m.source}


def _data_facts(data: DataSet) -> dict[str, Any]:
    from danlu.atomic import sha256_file

    path = Path(data.source)
    return {
        "source": str(path.resolve()) if path.is_file() else data.source,
        "format": data.format.name,
        "sha256": sha256_file(path) if path.is_file() else None,
        "rows": data.rows,
        "examples": len(data.examples),
        "skipped": len(data.skipped),
    }


def library_versions() -> dict[str, str]:
    versions = {}
    for name in ("danlu", *LIBRARIES):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


# -- 3. the base model ------------------------------------------------------------------------


def load_model(plan: Plan, folder: Path) -> Any:
    """The base model for training, in the run's precision (4-bit for QLoRA)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    dtype = dtypes[precision(plan.settings, plan.device)]
    kwargs: dict[str, Any] = {}
    if plan.settings.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
    return AutoModelForCausalLM.from_pretrained(str(folder.resolve()), dtype=dtype, **kwargs)


def peft_config(settings: TrainSettings) -> Any:
    if settings.method == "full":
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )


def common_args(plan: Plan, run_dir: Path) -> dict[str, Any]:
    """The TrainingArguments every stage shares, from the settings."""
    s = plan.settings
    prec = precision(s, plan.device)
    return {
        "output_dir": str(run_dir / "checkpoints"),
        "num_train_epochs": s.epochs,
        "max_steps": s.max_steps,
        "learning_rate": s.learning_rate,
        "lr_scheduler_type": s.scheduler,
        "warmup_steps": s.warmup_ratio,  # a float below 1 is a share of the steps
        "weight_decay": s.weight_decay,
        "per_device_train_batch_size": s.batch_size,
        "per_device_eval_batch_size": s.batch_size,
        "gradient_accumulation_steps": s.grad_accum,
        "max_length": s.max_length,
        "seed": s.seed,
        "data_seed": s.seed,
        _checkpointing_arg(): s.gradient_checkpointing,
        "bf16": prec == "bf16",
        "fp16": prec == "fp16",
        "use_cpu": plan.device == "cpu",
        "save_strategy": "steps",
        "save_steps": s.save_steps,
        "save_total_limit": s.save_total_limit,
        "logging_steps": s.logging_steps,
        "eval_strategy": "epoch" if s.eval_split > 0 else "no",
        "report_to": "none",
        "disable_tqdm": True,
        "include_num_input_tokens_seen": "non_padding",
        "dataloader_num_workers": 0,
    }


def _checkpointing_arg() -> str:
    """transformers 5.x renamed gradient_checkpointing to activation_checkpointing."""
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    return (
        "activation_checkpointing"
        if "activation_checkpointing" in fields
        else "gradient_checkpointing"
    )


def split(dataset: Any, settings: TrainSettings) -> tuple[Any, Any]:
    """(train, eval) datasets; eval is None without an eval split."""
    if settings.eval_split <= 0:
        return dataset, None
    parts = dataset.train_test_split(test_size=settings.eval_split, seed=settings.seed)
    return parts["train"], parts["test"]


# -- 4 and 5. train and finish ----------------------------------------------------------------


def run(
    settings: TrainSettings,
    stage: Stage,
    danlu_settings: Settings | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """The whole run (steps 1-5) of `stage` (an entry of train/stages' table); its steps
    are told to `progress` as they are done."""
    danlu_settings = danlu_settings or Settings()
    plan = check(settings, stage, danlu_settings)
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    run_dir, record, checkpoint = open_run(plan)
    with disk_full_as_error(run_dir):  # checkpoints and outputs
        try:
            return _train(plan, run_dir, record, checkpoint, progress)
        except BaseException as exc:
            record.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            _record_end(run_dir, record)
            raise


def _record_end(run_dir: Path, record: runs.RunRecord) -> None:
    """Write how the run ended; a full disk must not hide the error that ended it."""
    try:
        runs.write_record(run_dir, record)
    except OSError as exc:
        if not is_disk_full(exc):
            raise  # else the record keeps "running", and its dead owner reads as interrupted


def _train(plan, run_dir, record, checkpoint, progress) -> RunResult:
    from transformers import PrinterCallback, set_seed

    from danlu.train.outputs import save_outputs
    from danlu.train.progress import RunProgress, drop_metrics_after

    folder = dequantize(plan.base)
    tokenizer = load_tokenizer(folder)
    template = chat_template(plan.base, tokenizer, plan.settings.template)
    record.template = {"name": template.name, "source": template.source, "stop": template.stop}
    record.base_model["folder"] = str(folder.resolve())
    runs.write_record(run_dir, record)
    set_seed(plan.settings.seed)
    model = load_model(plan, folder)
    context = RunContext(
        plan, run_dir, tokenizer, Renderer(template, tokenizer), model, common_args(plan, run_dir)
    )
    trainer = plan.stage.trainer_builder()(context)
    record.data.update(context.data_facts)
    trainer.remove_callback(PrinterCallback)  # RunProgress shows and records the logs
    trainer.add_callback(RunProgress(run_dir, progress))
    if checkpoint is not None:
        drop_metrics_after(run_dir, int(checkpoint.name.split("-")[-1]))
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    record.steps = trainer.state.global_step
    record.metrics = {k: float(v) for k, v in output.metrics.items() if _is_number(v)}
    record.output = save_outputs(trainer, tokenizer, template, plan, run_dir, record)
    record.status = "finished"
    runs.write_record(run_dir, record)
    runs.plot_loss(run_dir)
    return RunResult(run_dir, record.id, record.steps, record.metrics)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

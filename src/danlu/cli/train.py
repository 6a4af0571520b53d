"""`danlu train sft | dpo`: fine-tune a model; one option per field of the stage's settings.

The options are built from the pydantic settings class itself (name, help, and the
default shown in the help), so the CLI, the YAML recipes and the Python API cannot
drift apart. `--config recipe.yaml` fills the settings first; the flags given override.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer

from danlu.cli.group import command_group
from danlu.cli.settings_flags import option
from danlu.config import Settings
from danlu.train.settings import TrainSettings
from danlu.train.stages import STAGES

SKIPPED = {"stage"}


def _config_option() -> inspect.Parameter:
    option = typer.Option(
        None, "--config", "-c", help="YAML recipe (a file, or a shipped recipe's name)."
    )
    return inspect.Parameter(
        "config", inspect.Parameter.KEYWORD_ONLY, default=option, annotation=str | None
    )


def _split_lists(flags: dict[str, Any]) -> dict[str, Any]:
    modules = flags.get("target_modules")
    if modules and modules != "all-linear":
        flags["target_modules"] = [m.strip() for m in modules.split(",") if m.strip()]
    return flags


def settings_from(cls: type[TrainSettings], config: str | None, flags: dict[str, Any]) -> Any:
    """The settings: a resumed run's own, or the recipe's, then the flags given."""
    flags = _split_lists(flags)
    if flags.get("resume") and not config and not flags.get("data"):
        from danlu.train.runs import settings_to_resume

        return settings_to_resume(cls, flags, Settings())
    return cls.from_sources(config, **flags)


def _report(result: Any) -> None:
    loss = result.metrics.get("train_loss")
    shown = f", mean loss {loss:.3f}" if loss is not None else ""
    print(f"run {result.id}: {result.steps} steps{shown}")
    print(f"  folder: {result.run_dir}")
    print(f'  chat with it: danlu run {result.run_dir} "..."')


def _command(stage: str) -> Callable[..., int]:
    cls = STAGES[stage].settings

    def command(**values: Any) -> int:
        from danlu.extras import require

        require("trl", "train", "danlu train")
        config = values.pop("config")
        settings = settings_from(cls, config, values)
        import datasets  # noqa: F401 -- TRL's: imported first, so that its bars are off too

        from danlu.cli.progress import bar
        from danlu.engine.transformers.quiet import quiet_libraries
        from danlu.train.runner import run

        # our bar shows the run's steps; the libraries' own would interleave with it
        with quiet_libraries(), bar("steps", "training") as progress:
            result = run(settings, STAGES[stage], progress=progress)
        _report(result)
        return 0

    params = [_config_option()]
    params += [option(n, f) for n, f in cls.model_fields.items() if n not in SKIPPED]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = (cls.__doc__ or "").strip() + (
        " The result lands in DANLU_HOME/runs/<run-id>/."
    )
    command.__name__ = stage
    return command


def group() -> typer.Typer:
    """The `danlu train` sub-command group."""
    return command_group(
        "train",
        "Fine-tune a model (LoRA, QLoRA, full) with SFT or DPO.",
        {stage: _command(stage) for stage in STAGES},
    )

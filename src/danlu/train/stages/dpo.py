"""Direct preference optimisation through TRL's DPOTrainer.

Each pair is rendered by `Renderer.preference` with danlu's chat template: the prompt
ends with the generation prompt and each answer is the turn the template writes after
it, so TRL only tokenizes texts that danlu formatted.
"""

from __future__ import annotations

from typing import Any

from danlu.train.runner import RunContext, peft_config, split
from danlu.train.settings import DPOSettings


def build_dpo_trainer(context: RunContext) -> Any:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    settings: DPOSettings = context.plan.settings  # type: ignore[assignment]
    rows = [context.renderer.preference(e) for e in context.plan.data.examples]  # type: ignore[arg-type]
    train, evaluate = split(Dataset.from_list(rows), settings)
    args = DPOConfig(**context.args, beta=settings.beta, loss_type=[settings.loss_type])
    return DPOTrainer(
        model=context.model,
        args=args,
        train_dataset=train,
        eval_dataset=evaluate,
        processing_class=context.tokenizer,
        peft_config=peft_config(settings),
    )

"""Supervised fine-tuning through TRL's SFTTrainer.

Every example is rendered and masked by `Renderer` (danlu's chat template; the loss on
the assistant's tokens), so TRL receives token ids and assistant masks and builds its
labels from them: its own templating and masking are not used.
"""

from __future__ import annotations

from typing import Any

from danlu.train.runner import RunContext, peft_config, split
from danlu.train.settings import SFTSettings


def encode_rows(context: RunContext) -> Any:
    """The examples as a datasets.Dataset of input_ids and assistant_masks."""
    from datasets import Dataset

    settings: SFTSettings = context.plan.settings  # type: ignore[assignment]
    rows = []
    for example in context.plan.data.examples:
        encoded = context.renderer.encode(example)  # type: ignore[arg-type]
        mask = encoded.assistant_masks if settings.assistant_only else [1] * len(encoded.input_ids)
        rows.append({"input_ids": encoded.input_ids, "assistant_masks": mask})
    lengths = [len(row["input_ids"]) for row in rows]
    context.data_facts["tokens"] = {
        "total": sum(lengths),
        "max": max(lengths),
        "mean": round(sum(lengths) / len(lengths), 1),
        "cut": sum(n > settings.max_length for n in lengths),  # examples cut to max_length
    }
    return Dataset.from_list(rows)


def build_sft_trainer(context: RunContext) -> Any:
    from trl import SFTConfig, SFTTrainer

    settings: SFTSettings = context.plan.settings  # type: ignore[assignment]
    train, evaluate = split(encode_rows(context), settings)
    args = SFTConfig(**context.args, packing=settings.packing, dataset_num_proc=None)
    return SFTTrainer(
        model=context.model,
        args=args,
        train_dataset=train,
        eval_dataset=evaluate,
        processing_class=context.tokenizer,
        peft_config=peft_config(settings),
    )

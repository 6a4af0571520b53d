"""Training throughput: danlu's LoRA SFT against a plain TRL SFTTrainer script.

Both contenders run the same LoRA (r, alpha, all linear layers), the same steps, batch,
sequence length, seed and data (tests/data/train/facts.jsonl or --data, Alpaca rows) on
the embedded SmolLM2, from the same dequantized base folder (built once, untimed). Each
repetition runs each contender in a fresh subprocess, alternating, so peak RSS is the
process's own. Reported: medians of training tokens/s (non-padding tokens seen / training
time, as the trainer counts them) and peak memory. Target (issue 9): danlu adds under 5%.

    python benchmarks/train_speed.py --steps 30 --reps 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).parent.parent / "tests" / "data" / "train" / "facts.jsonl"
COMMON = {"lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "learning_rate": 2e-4}


def run_danlu(home: Path, args: argparse.Namespace) -> float:
    from danlu.config import Settings
    from danlu.train import SFTSettings, sft

    settings = SFTSettings(
        data=str(args.data),
        max_steps=args.steps,
        batch_size=args.batch,
        max_length=args.length,
        save_steps=10**6,
        threads=args.threads,
        **COMMON,
    )
    result = sft(settings, Settings(home=home))
    return result.metrics["num_input_tokens_seen"] / result.metrics["train_runtime"]


def run_trl(home: Path, args: argparse.Namespace) -> float:
    """What a user would write with TRL alone: prompt/completion messages, completion loss."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    torch.set_num_threads(args.threads)
    (folder,) = (home / "cache" / "dequantized").iterdir()
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    data = Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": r["instruction"]}],
                "completion": [{"role": "assistant", "content": r["output"]}],
            }
            for r in rows
        ]
    )
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32),
        args=SFTConfig(
            output_dir=str(home / "trl-out"),
            max_steps=args.steps,
            seed=42,
            per_device_train_batch_size=args.batch,
            max_length=args.length,
            use_cpu=True,
            # TRL's own defaults are bf16 autocast and activation checkpointing, which on a
            # CPU took over 15 minutes for 30 steps here; match danlu's CPU choice (fp32, no
            # checkpointing) so that the two do the same arithmetic
            **({} if args.trl_defaults else {"bf16": False, checkpointing_arg(SFTConfig): False}),
            learning_rate=COMMON["learning_rate"],
            lr_scheduler_type="linear",
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            include_num_input_tokens_seen="non_padding",
        ),
        train_dataset=data,
        processing_class=AutoTokenizer.from_pretrained(str(folder)),
        peft_config=LoraConfig(
            r=COMMON["lora_r"],
            lora_alpha=COMMON["lora_alpha"],
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
    )
    metrics = trainer.train().metrics
    return metrics["num_input_tokens_seen"] / metrics["train_runtime"]


def checkpointing_arg(config: type) -> str:
    fields = getattr(config, "__dataclass_fields__", {})
    return (
        "activation_checkpointing"
        if "activation_checkpointing" in fields
        else ("gradient_checkpointing")
    )


CONTENDERS = {"danlu": run_danlu, "trl": run_trl}


def child(args: argparse.Namespace) -> None:
    """One contender, one repetition, in this process; prints one JSON line."""
    tps = CONTENDERS[args.child](args.home, args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"tokens_per_s": tps, "peak_bytes": peak}))


def spawn(name: str, home: Path, args: argparse.Namespace) -> dict:
    argv = [
        sys.executable,
        __file__,
        "--child",
        name,
        "--home",
        str(home),
        "--data",
        str(args.data),
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--length",
        str(args.length),
        "--threads",
        str(args.threads),
        *(["--trl-defaults"] if args.trl_defaults else []),
    ]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--trl-defaults", action="store_true", help="TRL's own precision and checkpointing"
    )
    parser.add_argument("--child", choices=sorted(CONTENDERS))
    parser.add_argument("--home", type=Path)
    args = parser.parse_args()
    if args.child:
        return child(args)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        from danlu.config import Settings
        from danlu.train.base import dequantize, find_base

        dequantize(find_base("smollm2", Settings(home=home)))  # once, untimed
        results: dict[str, list[dict]] = {name: [] for name in CONTENDERS}
        for _ in range(args.reps):
            for name in CONTENDERS:
                results[name].append(spawn(name, home, args))
    report(results, args)


def report(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    tps = {n: statistics.median(r["tokens_per_s"] for r in rows) for n, rows in results.items()}
    peak = {n: statistics.median(r["peak_bytes"] for r in rows) for n, rows in results.items()}
    print(
        f"LoRA SFT, {args.steps} steps, batch {args.batch}, max length {args.length}, "
        f"{args.threads} threads, {args.reps} reps (medians)"
    )
    print("| contender | tokens/s | peak RSS (MiB) |\n| --- | ---: | ---: |")
    for name in CONTENDERS:
        print(f"| {name} | {tps[name]:.1f} | {peak[name] / 2**20:.0f} |")
    print(f"danlu / trl throughput: {tps['danlu'] / tps['trl']:.3f}")


if __name__ == "__main__":
    main()

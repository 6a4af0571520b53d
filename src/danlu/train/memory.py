"""How much memory a run needs, estimated before anything loads, and the refusal.

The figures are deliberately simple and on the safe side:
  weights     params x bytes per weight (4 in fp32, 2 in bf16/fp16, ~0.6 in 4-bit)
  training    full: + 4 (gradient) + 8 (Adam moments) bytes per param in fp32;
              lora: adapters are ~1% of the weights, counted as 2% with their state
  activations per token: layers x hidden x 64 bytes (x 1/4 with gradient checkpointing)
              + the logits, vocab x 12 bytes (logits, softmax and their gradient)
plus a fixed 1 GiB for the libraries themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from danlu.train.errors import DoesNotFit

GIB = 1024**3
OVERHEAD = 1 * GIB


@dataclass(frozen=True)
class Shape:
    """The sizes of a model that decide its memory."""

    parameters: int
    hidden: int
    layers: int
    vocab: int


@dataclass(frozen=True)
class Estimate:
    weights: int
    training_state: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.training_state + self.activations + OVERHEAD

    def describe(self) -> str:
        parts = (
            f"weights {gib(self.weights)}",
            f"gradients and optimizer {gib(self.training_state)}",
            f"activations {gib(self.activations)}",
            f"libraries {gib(OVERHEAD)}",
        )
        return f"about {gib(self.total)} ({', '.join(parts)})"


def gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def estimate(
    shape: Shape,
    *,
    method: str,
    weight_bytes: float,
    tokens_per_step: int,
    checkpointing: bool,
) -> Estimate:
    """The memory one training step of this shape needs, by the rules above."""
    weights = int(shape.parameters * (0.6 if method == "qlora" else weight_bytes))
    state = shape.parameters * 12 if method == "full" else int(shape.parameters * 0.02 * 16)
    per_token = shape.layers * shape.hidden * (16 if checkpointing else 64) + shape.vocab * 12
    return Estimate(weights, state, per_token * tokens_per_step)


def available_memory(device: str) -> int:
    """Bytes free for the run: the GPU's free memory, or the machine's available RAM."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    return _mem_available()


def _mem_available(meminfo: Path = Path("/proc/meminfo")) -> int:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return 1 << 62  # unknown: do not refuse on a guess


def require_fit(needed: Estimate, available: int, where: str) -> None:
    """DoesNotFit with the figures when the estimate exceeds what is free."""
    if needed.total > available:
        raise DoesNotFit(
            f"this run needs {needed.describe()}, but {where} has {gib(available)} free",
            hint="use --method lora, a smaller --batch-size or --max-length, "
            "--gradient-checkpointing, or a smaller model",
        )

"""A peft LoRA adapter as a GGUF adapter that llama.cpp applies over the base at load.

Tensor names and layouts come from llama.cpp's own converter: the converter's model
class for the base architecture maps each adapted weight's name (`modify_tensors`), and
whatever it does to a weight W (the row permutation of q/k in llama, for example) is
done to B of the pair, since ΔW = B·A. That holds only when the converter's change is
linear in the rows, so every pair is checked: the converter's ΔW' must equal B'·A, else
the architecture is refused (merge and export the whole model instead).

Run as `python -m danlu.export.adapter BASE ADAPTER OUT` (a child process, like the
converter: it imports the converter and torch, and a failure there leaves danlu's
process alone); `export_adapter` does that and turns failures into typed errors.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from danlu.export.convert import check_converter
from danlu.export.errors import ExportError, UnsupportedArchitecture

REFUSED = "adapter-unsupported: "


def export_adapter(base: Path, adapter: Path, out: Path) -> Path:
    """Write the GGUF adapter for peft `adapter` (over HF folder `base`) to `out`."""
    check_converter()
    command = [sys.executable, "-m", "danlu.export.adapter", str(base), str(adapter), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode == 0 and out.is_file():
        return out
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    refused = next((line for line in lines if line.startswith(REFUSED)), None)
    if refused:
        raise UnsupportedArchitecture(
            refused.removeprefix(REFUSED),
            hint="export the merged model instead (no --adapter-only)",
        )
    raise ExportError(f"writing the GGUF adapter failed: {lines[-1] if lines else 'no output'}")


def _pairs(adapter: Path) -> dict[str, dict[str, object]]:
    """peft's A and B per adapted module, by the base weight's HF name."""
    from safetensors.torch import load_file

    pairs: dict[str, dict[str, object]] = {}
    for key, tensor in load_file(str(adapter / "adapter_model.safetensors")).items():
        match = re.fullmatch(
            r"(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.default)?\.weight", key
        )
        if match is None:
            raise SystemExit(f"{REFUSED}adapter tensor {key} is not a LoRA A/B pair")
        pairs.setdefault(f"{match[1]}.weight", {})[match[2]] = tensor.float()
    return pairs


def _model(base: Path, out: Path):  # -> the converter's model class instance
    import gguf
    from conversion import get_model_architecture, get_model_class
    from conversion.base import ModelBase, ModelType

    hparams = ModelBase.load_hparams(base, False)
    arch = get_model_architecture(hparams, ModelType.TEXT)
    try:
        cls = get_model_class(arch)
    except NotImplementedError:
        raise SystemExit(f"{REFUSED}llama.cpp's converter does not support {arch}") from None
    return cls(base, gguf.LlamaFileType.ALL_F32, out, eager=True, hparams=hparams)


def _mapped(model, name: str, b, a):  # -> (gguf name, B')
    """The converter's name for weight `name`, and B as the converter would lay it out."""
    import torch

    block = re.search(r"\.layers\.(\d+)\.", name)
    bid = int(block[1]) if block else None
    out_b = list(model.modify_tensors(b, name, bid))
    out_w = list(model.modify_tensors(b @ a, name, bid))
    if len(out_b) != 1 or len(out_w) != 1 or out_b[0][1].shape != b.shape:
        raise SystemExit(f"{REFUSED}the converter reshapes {name}; a LoRA pair cannot follow")
    (new_name, new_b), (_, new_w) = out_b[0], out_w[0]
    if not torch.allclose(new_b @ a, new_w, atol=1e-6, rtol=1e-4):
        raise SystemExit(f"{REFUSED}the converter's change to {name} is not a row permutation")
    return new_name, new_b


def write(base: Path, adapter: Path, out: Path) -> None:
    """The GGUF adapter: general.type 'adapter', adapter.type 'lora', alpha, and each
    pair as `<gguf weight name>.lora_a` / `.lora_b` in peft's own shapes."""
    import gguf

    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("use_rslora") or config.get("use_dora"):
        raise SystemExit(f"{REFUSED}rsLoRA and DoRA adapters have no GGUF form here")
    model = _model(base, out)
    writer = gguf.GGUFWriter(str(out), arch=gguf.MODEL_ARCH_NAMES[model.model_arch])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    for name, pair in sorted(_pairs(adapter).items()):
        new_name, new_b = _mapped(model, name, pair["B"], pair["A"])
        writer.add_tensor(f"{new_name}.lora_a", pair["A"].contiguous().numpy())
        writer.add_tensor(f"{new_name}.lora_b", new_b.contiguous().numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    write(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))

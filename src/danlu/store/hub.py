"""Find and download models on the Hugging Face Hub through `huggingface_hub`.

Downloads land in the standard HF cache (shared with other tools); the catalog then
hard-links them into the store. A dropped connection resumes where it stopped (a Range
request); a pull that is stopped (Ctrl-C) starts that file over next time, because
huggingface_hub 2.x downloads into a per-process temporary file it deletes on failure. Every
hub failure becomes one of our typed errors: unreachable -> OfflineError, missing
repo or file -> ModelNotFound.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

from danlu.errors import InvalidRequest, ModelNotFound, OfflineError, StoreError
from danlu.progress import Progress
from danlu.store.hf_info import KEEP_SUFFIXES
from danlu.store.names import sanitize_name

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
PREFIXES = ("hf:", "hf.co/", "huggingface.co/", "https://huggingface.co/")
PREFERRED_QUANTS = ("Q4_K_M", "Q4_0")
OFFLINE_HINT = "check your connection, or download the file yourself and use `danlu import`"
OFFLINE_MODE_HINT = (
    "unset HF_HUB_OFFLINE (or set it to 0) to download, or download the file yourself "
    "and use `danlu import`"
)


@dataclass(frozen=True)
class HubRef:
    """A parsed pull reference: a repo, plus a file or a quantization tag."""

    repo_id: str
    filename: str | None = None
    quant: str | None = None


@dataclass(frozen=True)
class HubTarget:
    """What to fetch: one GGUF file, or the listed files of an HF-format repo."""

    repo_id: str
    gguf: str | None
    files: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return f"hf:{self.repo_id}/{self.gguf}" if self.gguf else f"hf:{self.repo_id}"

    @property
    def default_name(self) -> str:
        if self.gguf:
            return sanitize_name(PurePosixPath(self.gguf).name.removesuffix(".gguf"))
        return sanitize_name(self.repo_id.split("/")[1])


def parse_ref(ref: str) -> HubRef:
    """'org/repo/file.gguf', 'org/repo:Q4_K_M' or 'org/repo' (an 'hf:' prefix is allowed)."""
    text = ref.strip()
    for prefix in PREFIXES:
        text = text.removeprefix(prefix)
    quant = None
    if ":" in text:
        text, quant = text.rsplit(":", 1)
    parts = text.split("/")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:]) or None
    if not REPO_ID.match(repo_id) or (filename and ".." in filename.split("/")) or quant == "":
        raise InvalidRequest(
            f"'{ref}' is not a model reference",
            hint="use ORG/REPO, ORG/REPO:QUANT (e.g. :Q4_K_M) or ORG/REPO/FILE.gguf",
        )
    if filename and quant:
        raise InvalidRequest(f"'{ref}' names both a file and a quantization", hint="give one")
    return HubRef(repo_id, filename, quant)


def choose_gguf(files: list[str], quant: str | None) -> str | None:
    """The GGUF file to pull: the one tagged `quant`, else Q4_K_M, Q4_0, the first."""
    ggufs = sorted(f for f in files if f.lower().endswith(".gguf") and "mmproj" not in f.lower())
    if quant:
        return _tagged(ggufs, quant)
    for preferred in PREFERRED_QUANTS:
        if found := _tagged(ggufs, preferred):
            return found
    return ggufs[0] if ggufs else None


def _tagged(ggufs: list[str], tag: str) -> str | None:
    """Prefer a whole-token match ('Q4_K' must not pick 'Q4_K_M' over 'Q4_K')."""
    loose = [f for f in ggufs if tag.lower() in f.lower()]
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(tag)}(?![A-Za-z0-9_])", re.IGNORECASE)
    exact = [f for f in loose if pattern.search(PurePosixPath(f).name)]
    return (exact or loose or [None])[0]


def env_offline() -> bool:
    """HF_HUB_OFFLINE, read now (huggingface_hub reads it once, at import)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean 'the hub cannot be reached'."""
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    found: list[type[BaseException]] = [LocalEntryNotFoundError, OfflineModeIsEnabled]
    found += [ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx"):  # huggingface_hub 1.x uses httpx, 2.x its httpx2
        with contextlib.suppress(ImportError, AttributeError):
            found.append(importlib.import_module(module).TransportError)
    return tuple(found)


@contextlib.contextmanager
def hub_errors(what: str, *, offline_mode: bool = False) -> Iterator[None]:
    """Translate huggingface_hub failures for `what` into danlu errors.

    `offline_mode`: offline was asked for (HF_HUB_OFFLINE), so a miss is the cache's,
    not the connection's.
    """
    from huggingface_hub import errors as hf

    # Before 1.0 the remote "entry not found" error had no class of its own.
    missing_entry = getattr(hf, "RemoteEntryNotFoundError", hf.EntryNotFoundError)
    try:
        yield
    except _transport_errors():  # first: old versions derive LocalEntryNotFound from "not found"
        if offline_mode:
            raise OfflineError(
                f"offline mode is on (HF_HUB_OFFLINE): the Hugging Face Hub is not asked, "
                f"and {what} is not in the local cache",
                OFFLINE_MODE_HINT,
            ) from None
        raise OfflineError(f"cannot reach the Hugging Face Hub for {what}", OFFLINE_HINT) from None
    except hf.GatedRepoError:
        raise StoreError(
            f"{what} is gated on the Hub",
            hint="accept its license on huggingface.co and log in with `hf auth login`",
        ) from None
    except (hf.RepositoryNotFoundError, hf.RevisionNotFoundError, missing_entry):
        raise ModelNotFound(
            f"{what} was not found on the Hugging Face Hub",
            hint="check the spelling: ORG/REPO, ORG/REPO:QUANT or ORG/REPO/FILE.gguf",
        ) from None
    except hf.HFValidationError as exc:
        raise InvalidRequest(f"{what}: {exc}".splitlines()[0]) from None
    except hf.HfHubHTTPError as exc:
        raise StoreError(f"the Hub refused {what}: {exc}".splitlines()[0]) from None
    except OSError as exc:
        raise StoreError(f"cannot download {what}: {exc.strerror or exc}") from None


class ByteCounter:
    """Stands in for tqdm in huggingface_hub's download loop and hands each byte count
    to a Progress callback ("downloading FILE") instead of drawing a bar."""

    def __init__(
        self,
        progress: Progress,
        label: str,
        *,
        total: int | None = None,
        initial: int = 0,
        **_: object,
    ):
        self.progress, self.label, self.total, self.n = progress, label, total or 0, initial

    def update(self, n: int = 1) -> None:
        self.n += n
        self.progress(self.label, self.n, max(self.total, self.n))

    def close(self) -> None:
        pass

    def __enter__(self) -> ByteCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HubClient:
    """Thin wrapper over huggingface_hub with the options a pull was given."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        cache_dir: Path | str | None = None,
        offline: bool | None = None,
    ) -> None:
        # read now, as env_offline does: huggingface_hub reads these once, at import
        self.endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
        cache_dir = cache_dir or os.environ.get("HF_HUB_CACHE") or None
        self.cache_dir = str(cache_dir) if cache_dir is not None else None
        self.offline = env_offline() if offline is None else offline
        self.offline_mode = self.offline  # asked for; `offline` also turns on when unreachable

    def resolve(self, ref: HubRef) -> HubTarget:
        """Decide which file(s) to fetch.

        The listing is also the reachability probe: one request without retries, so an
        unreachable hub costs no time (a download would retry for ~25 s first).
        """
        if ref.filename and self.offline:
            return HubTarget(ref.repo_id, ref.filename)
        files = self.list_files(ref.repo_id)
        if ref.filename:
            return HubTarget(ref.repo_id, ref.filename)
        if gguf := choose_gguf(files, ref.quant):
            return HubTarget(ref.repo_id, gguf)
        if ref.quant:
            ggufs = [f for f in files if f.lower().endswith(".gguf")]
            raise ModelNotFound(
                f"no GGUF file tagged '{ref.quant}' in {ref.repo_id}",
                hint=f"available: {', '.join(ggufs)}" if ggufs else "the repo has no GGUF files",
            )
        top = tuple(f for f in files if "/" not in f and f.endswith(KEEP_SUFFIXES))
        if not any(f.endswith(".safetensors") for f in top):
            raise StoreError(
                f"{ref.repo_id} has neither .gguf nor .safetensors model files",
                hint="danlu pulls GGUF files or Hugging Face models stored as safetensors",
            )
        return HubTarget(ref.repo_id, None, top)

    def list_files(self, repo_id: str) -> list[str]:
        """The repo's files from the Hub; from the cache (and offline from now) if unreachable."""
        from huggingface_hub import HfApi

        if not self.offline:
            try:
                with hub_errors(repo_id):  # model_info: one request; list_repo_files retries
                    info = HfApi(endpoint=self.endpoint).model_info(repo_id, expand=["siblings"])
                return [s.rfilename for s in info.siblings or []]
            except OfflineError:
                self.offline = True  # what the cache holds may be enough
        return self._cached_files(repo_id)

    def _cached_files(self, repo_id: str) -> list[str]:
        from huggingface_hub import errors, snapshot_download

        incomplete = getattr(errors, "IncompleteSnapshotError", ())  # huggingface_hub >= 1.x
        with hub_errors(repo_id, offline_mode=self.offline_mode):
            try:
                folder = snapshot_download(repo_id, cache_dir=self.cache_dir, local_files_only=True)
            except incomplete as exc:
                folder = exc.snapshot_path  # a partial snapshot still lists what we have
        root = Path(folder)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def fetch(self, target: HubTarget, progress: Progress | None = None) -> Path:
        """Download (or find in the cache) the target; returns a file or a folder.

        `progress(label, done, total)` follows the bytes of a GGUF download (nothing is reported
        when the file is already cached, or for a whole-repo snapshot)."""
        from huggingface_hub import hf_hub_download, snapshot_download

        options = {
            "cache_dir": self.cache_dir,
            "local_files_only": self.offline,
            "endpoint": self.endpoint,
        }
        if target.gguf:
            counter = partial(ByteCounter, progress, f"downloading {target.gguf}")
            bar = {"tqdm_class": counter} if progress else {}
            with hub_errors(f"{target.repo_id}/{target.gguf}", offline_mode=self.offline_mode):
                return Path(hf_hub_download(target.repo_id, target.gguf, **options, **bar))
        with hub_errors(target.repo_id, offline_mode=self.offline_mode):
            return Path(
                snapshot_download(target.repo_id, allow_patterns=list(target.files), **options)
            )

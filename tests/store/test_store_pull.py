"""Pulling from the Hugging Face Hub without a network: a hub-layout cache on disk
(HF_HUB_OFFLINE=1), a loopback stand-in of the hub's HTTP API, and a closed port."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from huggingface_hub import constants as hf_constants

from danlu.errors import InvalidRequest, ModelExists, ModelNotFound, OfflineError, StoreError
from danlu.store import Catalog
from danlu.store.hub import HubRef, choose_gguf, parse_ref
from tests.store.hub_standin import Served, etag, hub_standin
from tests.store.store_helpers import SMOLLM_FILE, write_hf_folder, write_hub_cache, write_tiny_gguf

REPO = "org/repo"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def hub_cache(tmp_path: Path, smollm_gguf: Path) -> Path:
    cache = tmp_path / "hf-cache"
    write_hub_cache(cache, REPO, {SMOLLM_FILE: smollm_gguf})
    return cache


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("org/repo/file.gguf", HubRef("org/repo", "file.gguf")),
        ("org/repo/sub/dir/f.gguf", HubRef("org/repo", "sub/dir/f.gguf")),
        ("hf:org/repo:Q4_K_M", HubRef("org/repo", quant="Q4_K_M")),
        ("hf.co/Org/Re.po-1", HubRef("Org/Re.po-1")),
    ],
)
def test_parse_ref(ref: str, expected: HubRef) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize(
    "bad", ["repo", "org/", "/repo", "org/repo/../x.gguf", "org/repo:", "a b/c"]
)
def test_bad_refs_are_invalid_requests(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_ref(bad)


def test_choose_gguf_prefers_tag_then_q4_k_m_then_q4_0() -> None:
    files = [
        "m.Q8_0.gguf",
        "m.Q4_0.gguf",
        "m.Q4_K_M.gguf",
        "m.Q4_K.gguf",
        "mmproj-f16.gguf",
        "a.txt",
    ]
    assert choose_gguf(files, None) == "m.Q4_K_M.gguf"
    assert choose_gguf(files, "q4_k") == "m.Q4_K.gguf"  # whole-token match wins
    assert choose_gguf(files, "Q8_0") == "m.Q8_0.gguf"
    assert choose_gguf(files[:2], None) == "m.Q4_0.gguf"
    assert choose_gguf(["b.gguf", "a.gguf"], None) == "a.gguf"
    assert choose_gguf(["config.json"], None) is None


@pytest.mark.usefixtures("offline")
def test_pull_a_named_file_from_the_cache(
    catalog: Catalog, hub_cache: Path, smollm_gguf: Path, smollm_sha256: str
) -> None:
    model = catalog.pull(f"{REPO}/{SMOLLM_FILE}", cache_dir=hub_cache)
    assert model.name == "smollm2-135m-instruct.q4_1"
    assert model.source == f"hf:{REPO}/{SMOLLM_FILE}"
    assert (model.quantization, model.context_length, model.sha256) == ("Q4_1", 8192, smollm_sha256)
    stored = catalog.main_path(model.name)
    assert stored.parent == catalog.model_dir(model.name) and not stored.is_symlink()
    assert os.stat(stored).st_ino == os.stat(smollm_gguf).st_ino  # linked from the cache blob


@pytest.mark.usefixtures("offline")
def test_pull_by_quant_tag_from_the_cache(catalog: Catalog, hub_cache: Path) -> None:
    model = catalog.pull(f"{REPO}:q4_1", name="Tagged", cache_dir=hub_cache)
    assert (model.name, model.source) == ("tagged", f"hf:{REPO}/{SMOLLM_FILE}")
    assert catalog.get("tagged").quantization == "Q4_1"
    with pytest.raises(ModelNotFound) as info:
        catalog.pull(f"{REPO}:Q8_0", cache_dir=hub_cache)
    assert SMOLLM_FILE in info.value.hint


@pytest.mark.usefixtures("offline")
def test_pull_a_repo_prefers_q4_k_m(catalog: Catalog, tmp_path: Path, smollm_gguf: Path) -> None:
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    cache = tmp_path / "cache"
    write_hub_cache(cache, REPO, {SMOLLM_FILE: smollm_gguf, "Tiny.Q4_K_M.gguf": tiny})
    model = catalog.pull(REPO, cache_dir=cache)
    assert (model.name, model.architecture) == ("tiny.q4_k_m", "qwen2")


@pytest.mark.usefixtures("offline")
def test_pull_an_hf_format_repo_from_the_cache(catalog: Catalog, tmp_path: Path) -> None:
    folder = write_hf_folder(tmp_path / "src")
    cache = tmp_path / "cache"
    write_hub_cache(cache, "org/Tiny-Llama", {p.name: p for p in folder.iterdir()})
    model = catalog.pull("org/Tiny-Llama", cache_dir=cache)
    assert (model.name, model.format, model.source) == (
        "tiny-llama",
        "safetensors",
        "hf:org/Tiny-Llama",
    )
    assert (model.parameters, model.quantization) == (68, "BF16")
    assert (catalog.model_dir("tiny-llama") / "tokenizer.json").is_file()


@pytest.mark.usefixtures("offline")
def test_pull_a_repo_without_model_files_is_refused_before_download(
    catalog: Catalog, tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# nothing here")
    cache = tmp_path / "cache"
    write_hub_cache(cache, "org/empty", {"README.md": readme, "pytorch_model.bin": readme})
    with pytest.raises(StoreError) as info:
        catalog.pull("org/empty", cache_dir=cache)
    assert "neither .gguf nor .safetensors" in info.value.message


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("ref", [f"{REPO}/{SMOLLM_FILE}", f"{REPO}:Q4_1", REPO])
def test_pull_offline_with_an_empty_cache_is_offline_error(
    catalog: Catalog, tmp_path: Path, ref: str
) -> None:
    with pytest.raises(OfflineError) as info:
        catalog.pull(ref, cache_dir=tmp_path / "empty")
    assert "\n" not in info.value.one_line() and "danlu import" in info.value.hint
    assert [m.name for m in catalog.list().models] == ["smollm2"]


@pytest.mark.usefixtures("offline")
def test_name_collision_is_found_before_any_download(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(ModelExists):
        catalog.pull(f"{REPO}/{SMOLLM_FILE}", name="smollm2", cache_dir=tmp_path / "empty")


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a process started without HF_HUB_OFFLINE, whatever the environment of this run.

    huggingface_hub reads the variable once, at import (tests/conftest.py imports it
    first), into `constants.HF_HUB_OFFLINE`, and checks that value on every request; danlu
    reads the variable itself when a pull starts. Both are set here, so a CI that exports
    HF_HUB_OFFLINE=1 still runs these tests instead of skipping them."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.usefixtures("online")
def test_unreachable_hub_is_offline_error(catalog: Catalog, tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    for ref in (f"{REPO}/{SMOLLM_FILE}", f"{REPO}:Q4_1"):
        with pytest.raises(OfflineError):
            catalog.pull(ref, endpoint=endpoint, cache_dir=tmp_path / "cache")


@pytest.mark.usefixtures("online")
def test_unreachable_hub_falls_back_to_the_cache(catalog: Catalog, hub_cache: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    model = catalog.pull(f"{REPO}:Q4_1", name="cached", endpoint=endpoint, cache_dir=hub_cache)
    assert (model.name, model.quantization) == ("cached", "Q4_1")


@pytest.mark.usefixtures("online")
def test_pull_downloads_through_the_hub_api(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = write_tiny_gguf(tmp_path / "src" / "tiny.gguf")
    cache = tmp_path / "cache"
    with hub_standin({REPO: {"Tiny.F16.gguf": tiny, "README.md": tiny}}) as endpoint:
        model = catalog.pull(f"{REPO}:F16", endpoint=endpoint, cache_dir=cache)
        with pytest.raises(ModelNotFound):
            catalog.pull("org/missing", endpoint=endpoint, cache_dir=cache)
        with pytest.raises(ModelNotFound):
            catalog.pull(f"{REPO}/nope.gguf", endpoint=endpoint, cache_dir=cache)
    assert (model.name, model.source, model.parameters) == (
        "tiny.f16",
        f"hf:{REPO}/Tiny.F16.gguf",
        136,
    )
    assert list((cache / "models--org--repo" / "snapshots").glob("*/Tiny.F16.gguf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the stand-in is gone: the cache serves it
    again = catalog.pull(f"{REPO}/Tiny.F16.gguf", name="again", cache_dir=cache)
    assert again.sha256 == model.sha256


@pytest.mark.usefixtures("online")
def test_pull_reports_download_bytes_then_hashing(catalog: Catalog, tmp_path: Path) -> None:
    tiny = write_tiny_gguf(tmp_path / "src" / "tiny.gguf")
    size = tiny.stat().st_size
    downloaded: list[tuple[int, int]] = []
    hashed: list[tuple[int, int]] = []
    with hub_standin({REPO: {"Tiny.F16.gguf": tiny}}) as endpoint:
        catalog.pull(
            f"{REPO}:F16",
            endpoint=endpoint,
            cache_dir=tmp_path / "cache",
            download=lambda label, done, total: downloaded.append((done, total)),
            progress=lambda label, done, total: hashed.append((done, total)),
        )
        cached: list[tuple[int, int]] = []
        catalog.pull(
            f"{REPO}:F16",
            name="again",
            endpoint=endpoint,
            cache_dir=tmp_path / "cache",
            download=lambda label, done, total: cached.append((done, total)),
        )
    assert downloaded and downloaded[-1] == (size, size)
    assert all(total == size for _, total in downloaded)
    assert hashed[-1] == (size, size)
    assert cached == []  # served from the Hugging Face cache: nothing downloaded


@pytest.mark.usefixtures("online")
def test_pull_resumes_a_download_cut_off_midway(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops after 128 bytes; the rest comes with a Range request, and only
    the rest: the file is sent once in all, and the model stored is whole.

    huggingface_hub writes what it received in chunks of DOWNLOAD_CHUNK_SIZE (10 MB) and
    resumes from the last whole chunk; 64-byte chunks let a 512-byte file show that."""
    monkeypatch.setattr(hf_constants, "DOWNLOAD_CHUNK_SIZE", 64)
    tiny = write_tiny_gguf(tmp_path / "src" / "tiny.gguf")
    size = tiny.stat().st_size
    log: list[Served] = []
    downloaded: list[tuple[int, int]] = []
    with hub_standin({REPO: {"Tiny.F16.gguf": tiny}}, log, cut={"Tiny.F16.gguf": 128}) as url:
        model = catalog.pull(
            f"{REPO}:F16",
            endpoint=url,
            cache_dir=tmp_path / "cache",
            download=lambda label, done, total: downloaded.append((done, total)),
        )
    assert log == [Served("Tiny.F16.gguf", 0, 128), Served("Tiny.F16.gguf", 128, size - 128)]
    assert model.sha256 == etag(tiny)  # the two parts, in order, make the file
    assert catalog.main_path(model.name).read_bytes() == tiny.read_bytes()
    assert downloaded[-1] == (size, size) and all(done <= size for done, _ in downloaded)

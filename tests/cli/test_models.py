"""`danlu list | show | import | rm | cp | pull` in process, with bad input."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import smollm2_path
from tests.store.hub_standin import hub_standin
from tests.store.store_helpers import write_tiny_gguf


def one_line_error(result) -> str:
    assert result.code == 1
    assert "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def gguf_copy(tmp_path: Path) -> Path:
    """The real model under another file name (a hard link: no 100 MB copy in the test)."""
    target = tmp_path / "incoming" / "My-Model.Q4_1.gguf"
    target.parent.mkdir()
    os.link(smollm2_path(), target)
    return target


def test_list_shows_the_builtin_model(danlu):
    result = danlu("list")
    assert result.code == 0
    row = next(line for line in result.out.splitlines() if line.startswith("smollm2"))
    assert row.split()[1:] == ["gguf", "134.5M", "Q4_1", "98.4", "MB", "8192", "ok"]


def test_list_json(danlu):
    models = json.loads(danlu("list", "--json").out)
    (smol,) = [m for m in models if m["name"] == "smollm2"]
    assert smol["architecture"] == "llama" and smol["builtin"] is True
    assert smol["status"] == "ok"


def test_list_marks_a_model_whose_file_moved_as_missing(danlu, gguf_copy, tmp_path):
    assert danlu("import", str(gguf_copy), "--name", "moved", "--in-place").code == 0
    gguf_copy.rename(tmp_path / "elsewhere.gguf")
    result = danlu("list")
    assert result.code == 0
    row = next(line for line in result.out.splitlines() if line.startswith("moved "))
    assert row.split()[-1] == "missing"
    assert f"warning: model 'moved' is missing its file {gguf_copy}" in result.err
    assert "danlu rm moved" in result.err
    (smol,) = [m for m in json.loads(danlu("list", "--json").out) if m["name"] == "smollm2"]
    assert smol["status"] == "ok"


def test_list_marks_a_truncated_model_as_damaged(danlu, damaged_model):
    result = danlu("list")
    assert result.code == 0
    row = next(line for line in result.out.splitlines() if line.startswith(f"{damaged_model} "))
    assert row.split()[-1] == "damaged"
    assert f"warning: model '{damaged_model}' has " in result.err
    models = {m["name"]: m["status"] for m in json.loads(danlu("list", "--json").out)}
    assert models == {damaged_model: "damaged", "smollm2": "ok"}


def test_list_marks_a_file_overwritten_at_the_same_size_as_damaged(danlu, tmp_path):
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    assert danlu("import", str(tiny), "--name", "tiny", "--in-place").code == 0
    tiny.write_bytes(b"\0" * tiny.stat().st_size)  # same size, no GGUF header any more
    row = next(line for line in danlu("list").out.splitlines() if line.startswith("tiny "))
    assert row.split()[-1] == "damaged"


def test_show_text_json_and_template(danlu):
    text = danlu("show", "smollm2").out
    assert "architecture    llama" in text
    assert "{% for message in messages %}" in text
    data = json.loads(danlu("show", "smollm2", "--json").out)
    assert Path(data["paths"][0]).is_file()
    assert data["context_length"] == 8192
    template = danlu("show", "smollm2", "--template").out
    assert template.startswith("{% for message in messages %}")


def test_import_then_run_then_copy_and_remove(danlu, gguf_copy):
    assert danlu("import", str(gguf_copy), "--name", "mine").code == 0
    assert any(line.startswith("mine ") for line in danlu("list").out.splitlines())
    answer = json.loads(danlu("run", "mine", "Hi", "--json", "--temp", "0", "-n", "4").out)
    assert answer["usage"]["completion_tokens"] == 4
    assert danlu("cp", "mine", "mine2").code == 0
    assert danlu("rm", "mine").code == 0
    assert gguf_copy.exists()  # the user's own file is never touched
    assert danlu("run", "mine2", "Hi", "--temp", "0", "-n", "2").code == 0
    line = one_line_error(danlu("show", "mine"))
    assert "mine2" in line  # the close name is suggested


def test_import_default_name_comes_from_the_file(danlu, gguf_copy):
    assert danlu("import", str(gguf_copy)).code == 0
    assert "my-model.q4_1" in danlu("list").out


def test_import_in_place_records_the_path_and_takes_no_copy(danlu, gguf_copy, danlu_home):
    assert danlu("import", str(gguf_copy), "--name", "ref", "--in-place").code == 0
    shown = json.loads(danlu("show", "ref", "--json").out)
    assert shown["paths"] == [str(gguf_copy.resolve())]
    assert not list((danlu_home / "models" / "ref").glob("*.gguf"))
    answer = json.loads(danlu("run", "ref", "Hi", "--json", "--temp", "0", "-n", "2").out)
    assert answer["usage"]["completion_tokens"] == 2


def test_import_name_collision(danlu, gguf_copy):
    danlu("import", str(gguf_copy), "--name", "twice")
    line = one_line_error(danlu("import", str(gguf_copy), "--name", "twice"))
    assert "twice" in line


def test_import_missing_path(danlu, tmp_path):
    line = one_line_error(danlu("import", str(tmp_path / "nope.gguf")))
    assert "nope.gguf" in line


@pytest.mark.parametrize(
    "content", [b"", b"not a gguf at all" * 10, smollm2_path().read_bytes()[:4096]]
)
def test_import_corrupt_gguf_leaves_the_store_clean(danlu, tmp_path, danlu_home, content):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    one_line_error(danlu("import", str(bad), "--name", "bad"))
    assert not (danlu_home / "models" / "bad").exists()
    assert danlu("list").code == 0


def test_path_tricks_in_names_are_refused(danlu, gguf_copy, danlu_home):
    for name in ("../evil", "a/b", ".."):
        one_line_error(danlu("import", str(gguf_copy), "--name", name))
    assert not (danlu_home / "evil").exists()
    one_line_error(danlu("cp", "smollm2", "../evil"))


def test_unreadable_manifest_is_skipped_by_list(danlu, danlu_home):
    danlu("list")
    broken = danlu_home / "models" / "broken"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    result = danlu("list")
    assert result.code == 0
    assert "smollm2" in result.out
    assert "broken" in result.err
    one_line_error(danlu("show", "broken"))
    one_line_error(danlu("run", "broken", "hi"))


def test_rm_unknown_and_builtin(danlu):
    one_line_error(danlu("rm", "nothing-here"))
    one_line_error(danlu("rm", "smollm2"))


def test_name_taken_hints_fit_the_command(danlu, gguf_copy):
    assert danlu("import", str(gguf_copy), "--name", "mine").code == 0
    # cp has no --name: it is told to give the copy another name
    line = one_line_error(danlu("cp", "smollm2", "mine"))
    assert "--name" not in line
    assert "give the copy another name" in line and "`danlu rm mine`" in line
    # the built-in model cannot be removed to make room, so that is not suggested
    line = one_line_error(danlu("cp", "mine", "smollm2"))
    assert "danlu rm" not in line and "cannot be removed" in line
    line = one_line_error(danlu("import", str(gguf_copy), "--name", "smollm2"))
    assert "--name" in line and "danlu rm" not in line


@pytest.mark.parametrize(
    "ref", ["someone/some-model-GGUF/model.Q4_0.gguf", "someone/some-model-GGUF:Q4_0"]
)
def test_pull_in_offline_mode_says_so_and_how_to_leave_it(danlu, monkeypatch, tmp_path, ref):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    line = one_line_error(danlu("pull", ref))
    assert "offline mode is on (HF_HUB_OFFLINE): the Hugging Face Hub is not asked" in line
    assert "is not in the local cache" in line
    assert "unset HF_HUB_OFFLINE" in line
    assert "connection" not in line and "cannot reach" not in line


def test_pull_downloads_from_the_hub_into_the_store(danlu, monkeypatch, tmp_path):
    tiny = write_tiny_gguf(tmp_path / "src" / "tiny.gguf")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with hub_standin({"org/repo": {"Tiny.F16.gguf": tiny}}) as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        result = danlu("pull", "org/repo:F16")
    assert result.code == 0, result.err
    assert result.out.strip() == "pulled tiny.f16 (gguf, 512 B)"
    assert "tiny.f16" in danlu("list").out


def _no_disk_space() -> None:
    """In the child: any write that grows a file fails (EFBIG), as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


@pytest.mark.parametrize("args", [["import", "{tiny}", "--name", "new"], ["cp", "smollm2", "new"]])
def test_a_store_write_that_fails_is_one_line_and_leaves_the_store_as_it_was(
    danlu, danlu_home, tmp_path, args
):
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    before = danlu("list").out
    command = [str(Path(sys.executable).parent / "danlu"), *(a.format(tiny=tiny) for a in args)]
    run = subprocess.run(command, preexec_fn=_no_disk_space, capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.startswith("error: ")
    assert "check free disk space" in run.stderr
    assert run.stderr.count("\n") == 1
    assert danlu("list").out == before
    assert sorted(p.name for p in (danlu_home / "models").iterdir()) == ["smollm2"]

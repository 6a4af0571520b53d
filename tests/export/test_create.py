"""`danlu create NAME -f Modelfile`: parsing, refusals by line, and a derived model that
carries its system prompt and parameters into `danlu run` and the server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import danlu
from danlu.config import Settings
from danlu.server import ServerSettings
from danlu.store.manifest import read_manifest
from danlu.store.modelfile import ModelfileError, parse_modelfile
from tests.server.conftest import start_server, stop_server

SYSTEM = "You are Tidy. You answer in lower case."
MODELFILE = f'''# a tidy assistant
FROM smollm2
PARAMETER temperature 0
PARAMETER num_predict 6
PARAMETER stop "<|im_end|>"
PARAMETER num_ctx 512
SYSTEM """
{SYSTEM}
"""
'''


def write(folder: Path, text: str) -> Path:
    path = folder / "Modelfile"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_parser_reads_every_instruction():
    mf = parse_modelfile(MODELFILE + 'TEMPLATE chatml\nLICENSE "MIT"\nADAPTER ./a.gguf\n')
    assert mf.base == "smollm2" and mf.system == SYSTEM and mf.n_ctx == 512
    assert mf.parameters == {"temperature": 0.0, "max_tokens": 6, "stop": ["<|im_end|>"]}
    assert mf.template == "chatml" and mf.license == "MIT" and mf.adapters == ["./a.gguf"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("FROM smollm2\nPARAMETER temprature 0.5\n", 2, "unknown parameter 'temprature'"),
        ("FROM smollm2\n\nPARAMETER top_k many\n", 3, "takes a int, not 'many'"),
        ("FROM smollm2\nSTOP here\n", 2, "unknown instruction 'STOP'"),
        ('FROM smollm2\nSYSTEM """never closed\n', 2, "never closed"),
        ("FROM smollm2\nTEMPLATE {{ .Prompt }}\n", 2, "Go template"),
        ("PARAMETER seed 1\n", None, "no FROM line"),
    ],
)
def test_a_bad_line_is_named(text: str, line: int | None, words: str):
    with pytest.raises(ModelfileError) as info:
        parse_modelfile(text)
    assert words in info.value.message
    if line is not None:
        assert info.value.message.startswith(f"Modelfile line {line}: ")


def test_bad_values_found_at_create_name_their_line(cli, tmp_path, danlu_home):
    bad_param = write(tmp_path, "FROM smollm2\nPARAMETER temperature 9\n")
    result = cli("create", "tidy", "-f", str(bad_param))
    assert result.code == 1 and "line 2: " in result.err and "temperature" in result.err
    missing = write(tmp_path, "\nFROM nosuch\n")
    result = cli("create", "tidy", "-f", str(missing))
    assert result.code == 1 and "line 2: no model named 'nosuch'" in result.err
    not_adapter = write(tmp_path, f"FROM smollm2\nADAPTER {tmp_path / 'Modelfile'}\n")
    result = cli("create", "tidy", "-f", str(not_adapter))
    assert result.code == 1 and "line 2: " in result.err
    models = danlu_home / "models"
    assert sorted(p.name for p in models.iterdir()) == ["smollm2"]


def test_a_taken_name_is_refused_with_a_hint_create_can_follow(cli, tmp_path, danlu_home):
    modelfile = str(write(tmp_path, "FROM smollm2\n"))
    assert cli("create", "tidy", "-f", modelfile).code == 0
    again = cli("create", "tidy", "-f", modelfile)
    assert again.code == 1 and "'tidy' already exists" in again.err
    assert "--name" not in again.err and "another name" in again.err  # create has no --name
    assert "danlu rm tidy" in again.err
    builtin = cli("create", "smollm2", "-f", modelfile)
    assert builtin.code == 1 and "--name" not in builtin.err
    assert "danlu rm" not in builtin.err and "cannot be removed" in builtin.err


def test_a_created_model_shares_the_weights_and_carries_its_defaults(
    cli,
    tmp_path,
    danlu_home,
):
    created = cli("create", "tidy", "-f", str(write(tmp_path, MODELFILE)))
    assert created.code == 0, created.err
    settings = Settings(home=danlu_home)
    tidy = settings.models_dir / "tidy"
    parent = settings.models_dir / "smollm2"
    with danlu.load("tidy", settings=settings) as model:
        assert model.n_ctx == 512
        assert SYSTEM in model.render([{"role": "user", "content": "Hi"}])
        reply = model.chat([{"role": "user", "content": "Tell me about rivers."}])
        again = model.chat([{"role": "user", "content": "Tell me about rivers."}])
    assert reply.usage.completion_tokens <= 6 and reply.text == again.text  # greedy, capped
    shown = cli("show", "tidy")
    assert "parent          smollm2" in shown.out and SYSTEM in shown.out
    ran = cli("run", "tidy", "Tell me about rivers.")
    assert ran.code == 0 and ran.out.strip() == reply.text.strip()
    mine, theirs = read_manifest(tidy), read_manifest(parent)
    first = Path(mine.files[0])
    if first.is_absolute():  # the parent references its file in place: so does the child
        assert mine.files[0] == theirs.files[0]
    else:  # no copy of the weights: a hard link to the parent's file
        assert (tidy / first).stat().st_ino == (parent / first).stat().st_ino


def test_the_server_uses_the_created_models_defaults(cli, tmp_path, danlu_home):
    assert cli("create", "tidy", "-f", str(write(tmp_path, MODELFILE))).code == 0
    live = start_server(ServerSettings(), danlu_home)
    try:
        body = {"model": "tidy", "messages": [{"role": "user", "content": "Tell me about rivers."}]}
        answer = httpx.post(f"{live.v1}/chat/completions", json=body, timeout=120).json()
        with danlu.load("tidy", settings=Settings(home=danlu_home)) as model:
            prompt = model.prepare_chat(body["messages"])
    finally:
        stop_server(live)
    assert answer["usage"]["completion_tokens"] <= 6
    assert answer["usage"]["prompt_tokens"] == len(prompt.tokens)  # the system prompt counted

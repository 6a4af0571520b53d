"""ServerSettings precedence, `danlu serve` refusing bad input, and the request time limit."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from danlu.errors import InvalidParameter
from danlu.server import ServerSettings
from tests.server.conftest import start_server, stop_server


def test_flags_beat_config_file_beat_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DANLU_PORT", "9001")
    monkeypatch.setenv("DANLU_PARALLEL", "3")
    monkeypatch.setenv("DANLU_MAX_QUEUE", "5")
    config = tmp_path / "server.json"
    config.write_text(json.dumps({"parallel": 6, "port": 9002}), encoding="utf-8")
    settings = ServerSettings.build(config, port=9003)
    assert settings.port == 9003  # flag
    assert settings.parallel == 6  # config file
    assert settings.max_queue == 5  # environment
    assert settings.host == "127.0.0.1"  # default: loopback only


def test_every_engine_flag_of_serve_is_a_server_setting_passed_to_the_model():
    from danlu.cli.engine_flags import FLAGS, engine_options
    from danlu.server.settings import ENGINE_KNOBS

    assert sorted(flag.field for flag in FLAGS.values()) == sorted(ENGINE_KNOBS)
    given = {"mlock": True, "no_mmap": True, "batch_size": 256, "flash_attn": "on"}
    flags = engine_options({name: given.get(name, flag.default) for name, flag in FLAGS.items()})
    assert flags == {"mlock": True, "mmap": False, "n_batch": 256, "flash_attn": "on"}
    assert ServerSettings.build(None, **flags).engine_options() == flags


def test_the_ram_prompt_cache_budget_reaches_the_models_options(monkeypatch):
    assert "cache_ram" not in ServerSettings.build(None).engine_options()  # the engine's default
    monkeypatch.setenv("DANLU_CACHE_RAM", "0")
    assert ServerSettings.build(None).engine_options()["cache_ram"] == 0
    with pytest.raises(InvalidParameter, match="cache_ram"):
        ServerSettings.build(None, cache_ram=-1)


def test_bad_config_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(InvalidParameter, match="cannot read config file"):
        ServerSettings.build(broken)
    with pytest.raises(InvalidParameter, match="parallel"):
        ServerSettings.build(None, parallel=0)
    with pytest.raises(InvalidParameter, match="unknown parameter 'colour'"):
        ServerSettings.build(None, colour="red")


def test_serve_refuses_an_unknown_model_before_binding(capsys):
    from danlu.cli.main import main

    code = main(["serve", "no-such-model", "--port", "0"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: no model named 'no-such-model'")
    assert err.count("\n") == 1


def test_a_request_over_the_time_limit_gets_504(tmp_path):
    live = start_server(
        ServerSettings(models=["smollm2"], n_ctx=1024, threads=2, parallel=1, request_timeout=1.0),
        tmp_path / "home",
    )
    try:
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": "Tell a story."}],
            "max_tokens": 900,
            "ignore_eos": True,
        }
        r = httpx.post(f"{live.v1}/chat/completions", json=body, timeout=60)
        assert r.status_code == 504
        assert r.json()["error"]["code"] == "timeout"
        quick = httpx.post(
            f"{live.v1}/chat/completions", json={**body, "max_tokens": 2}, timeout=60
        )
        assert quick.status_code == 200  # the slot was freed
    finally:
        stop_server(live)


def test_serve_on_a_busy_port_is_one_clear_line(capsys):
    from danlu.cli.main import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert "choose another --port" in err
    assert err.count("\n") == 1


def test_a_client_that_connects_right_after_the_banner_is_not_refused():
    # the banner is printed before uvicorn starts; the socket must already accept
    from danlu.cli.serve import listen

    with listen("127.0.0.1", 0) as sock, socket.socket() as client:
        client.settimeout(5)
        assert client.connect_ex(sock.getsockname()) == 0


def test_serve_stops_with_one_line_when_a_model_fails_to_load(capsys, damaged_model):
    from danlu.cli.main import main

    code = main(["serve", damaged_model, "--port", "0"])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"; loading {damaged_model}" in out  # it was listening before the load failed
    assert err.startswith("error: llama.cpp could not load")
    assert err.count("\n") == 1
    assert "Traceback" not in out + err


def test_a_damaged_model_requested_on_demand_is_422_and_the_server_keeps_serving(
    tmp_path, danlu_home, damaged_model
):
    live = start_server(
        ServerSettings(models=["smollm2"], n_ctx=512, threads=2, parallel=1), danlu_home
    )
    try:
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        bad = httpx.post(
            f"{live.v1}/chat/completions", json={**body, "model": damaged_model}, timeout=60
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "corrupt_model"
        assert "could not load" in bad.json()["error"]["message"]
        good = httpx.post(
            f"{live.v1}/chat/completions", json={**body, "model": "smollm2"}, timeout=60
        )
        assert good.status_code == 200
        assert httpx.get(f"{live.url}/health", timeout=60).json() == {"status": "ok"}
    finally:
        stop_server(live)


def test_a_missing_or_unreadable_key_file_stops_serve_with_one_line(capsys, tmp_path):
    from danlu.cli.main import main

    for key_file in (tmp_path / "no-such-file", tmp_path):  # absent; a folder cannot be read
        code = main(["serve", "--api-key-file", str(key_file), "--port", "0"])
        err = capsys.readouterr().err
        assert code == 1
        assert err.startswith(f"error: cannot read API key file '{key_file}'")
        assert err.count("\n") == 1


def test_a_key_file_without_a_key_is_refused_not_read_as_no_auth(tmp_path):
    empty = tmp_path / "keys.txt"
    empty.write_text("\n# the key goes here\n   \n", encoding="utf-8")
    with pytest.raises(InvalidParameter, match="holds no key"):
        ServerSettings.build(None, api_key_file=empty)


def test_key_file_skips_blank_lines_and_comments(tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("k1\n\n  # old: k0\n k2 \n", encoding="utf-8")
    assert ServerSettings.build(None, api_key_file=keys).keys() == {"k1", "k2"}


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["-c", "0"], "invalid n_ctx=0: input should be greater than or equal to 16"),
        (["-c", "15"], "invalid n_ctx=15: input should be greater than or equal to 16"),
        (["-t", "0"], "invalid threads=0: input should be greater than or equal to 1"),
        (["-t", "-1"], "invalid threads=-1: input should be greater than or equal to 1"),
    ],
)
def test_run_and_serve_refuse_the_same_settings_with_the_same_words(capsys, flags, says):
    from danlu.cli.main import main

    for command in (["run", "smollm2", "hi", "-n", "1"], ["serve", "--port", "0"]):
        code = main([*command, *flags])
        err = capsys.readouterr().err
        assert code == 1, (command, flags)
        assert err == f"error: {says}\n", (command, flags)


def test_config_file_and_environment_follow_the_same_rules(tmp_path, monkeypatch):
    from danlu.config import Settings

    config = tmp_path / "server.json"
    config.write_text(json.dumps({"n_ctx": 8}), encoding="utf-8")
    with pytest.raises(InvalidParameter, match="invalid n_ctx=8"):
        ServerSettings.build(config)
    monkeypatch.setenv("DANLU_THREADS", "0")
    with pytest.raises(InvalidParameter, match="invalid threads='0'") as info:
        Settings()
    assert "DANLU_" in info.value.hint

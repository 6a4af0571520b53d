"""ServerSettings precedence, `danlu serve` refusing bad input, and the request time limit."""

from __future__ import annotations

import json

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
        ServerSettings(models=["smollm2"], n_ctx=1024, threads=2, parallel=1, request_timeout=0.5),
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
        quick = httpx.post(f"{live.v1}/chat/completions", json={**body, "max_tokens": 2})
        assert quick.status_code == 200  # the slot was freed
    finally:
        stop_server(live)

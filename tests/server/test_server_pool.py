"""Several models in one server: on-demand loading, keep_alive and LRU unloading."""

from __future__ import annotations

import threading

import httpx
import pytest

from danlu.config import Settings
from danlu.server import ServerSettings
from danlu.store import Catalog
from tests.server.conftest import eventually, start_server, stop_server
from tests.server.gated_backend import GATE, add_gated_model, register


def loaded(live) -> list[str]:
    return [m["name"] for m in httpx.get(f"{live.url}/api/ps", timeout=60).json()["models"]]


def chat(live, model: str, **extra) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    return httpx.post(f"{live.v1}/chat/completions", json={**body, **extra}, timeout=60)


def test_models_load_on_demand_and_the_least_recent_is_unloaded(tmp_path):
    home = tmp_path / "home"
    Catalog(Settings(home=home)).copy("smollm2", "second")
    live = start_server(
        ServerSettings(models=[], n_ctx=512, threads=2, parallel=1, max_loaded=1, keep_alive=-1),
        home,
    )
    try:
        assert loaded(live) == []
        assert chat(live, "smollm2").status_code == 200
        assert loaded(live) == ["smollm2"]
        assert chat(live, "second").status_code == 200
        assert loaded(live) == ["second"]  # max_loaded=1: smollm2 made room
        assert chat(live, "smollm2:latest").status_code == 200  # Ollama-style tag accepted
        assert loaded(live) == ["smollm2"]
    finally:
        stop_server(live)


def test_keep_alive_zero_unloads_after_the_request_and_expiry_unloads_idle(tmp_path):
    live = start_server(
        ServerSettings(models=["smollm2"], n_ctx=512, threads=2, parallel=1, keep_alive=1.0),
        tmp_path / "home",
    )
    try:
        # the preloaded model idles from the start: it goes once keep_alive=1 s has passed
        eventually(lambda: loaded(live) == [], "the idle preloaded model unloaded")
        assert chat(live, "smollm2", keep_alive=-1).status_code == 200
        assert loaded(live) == ["smollm2"]  # -1: kept, however slow the machine
        assert chat(live, "smollm2", keep_alive=0).status_code == 200
        assert loaded(live) == []  # keep_alive=0: unloaded before the answer was sent
        assert chat(live, "smollm2", keep_alive=-1).status_code == 200
        assert chat(live, "smollm2").status_code == 200  # no keep_alive: back to the default
        eventually(lambda: loaded(live) == [], "unloaded 1 s after: the earlier -1 did not stick")
    finally:
        stop_server(live)


def test_memory_budget_unloads_the_least_recently_used(tmp_path):
    home = tmp_path / "home"
    Catalog(Settings(home=home)).copy("smollm2", "second")
    live = start_server(
        ServerSettings(
            models=[],
            n_ctx=512,
            threads=2,
            parallel=1,
            max_loaded=4,
            keep_alive=-1,
            memory_budget_mb=150,
        ),
        home,
    )
    try:
        assert chat(live, "smollm2").status_code == 200
        assert chat(live, "second").status_code == 200
        assert loaded(live) == ["second"]  # two 98 MB models do not fit in 150 MB
    finally:
        stop_server(live)


@pytest.fixture
def gated(tmp_path, monkeypatch):
    """A home with model 'gated', whose loads wait until the test opens GATE.release."""
    monkeypatch.syspath_prepend(str(register(tmp_path / "plugins")))
    GATE.entered.clear()
    GATE.release.clear()
    home = tmp_path / "home"
    add_gated_model(home)
    yield home
    GATE.release.set()  # never leave a load waiting


def request_in_background(live, model: str) -> tuple[threading.Thread, list[httpx.Response]]:
    answer: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: answer.append(chat(live, model)), daemon=True)
    thread.start()
    return thread, answer


def test_health_says_loading_while_a_model_loads_on_demand(gated):
    live = start_server(
        ServerSettings(models=[], n_ctx=512, threads=2, parallel=1, keep_alive=-1), gated
    )
    try:
        assert httpx.get(f"{live.url}/health", timeout=60).json() == {
            "status": "ok"
        }  # nothing to load
        request, answer = request_in_background(live, "gated")
        assert GATE.entered.wait(30)  # the load has begun, and waits at the gate
        r = httpx.get(f"{live.url}/health", timeout=60)
        assert (r.status_code, r.json()) == (503, {"status": "loading"})
        GATE.release.set()
        request.join(60)
        assert answer[0].status_code == 200
        assert httpx.get(f"{live.url}/health", timeout=60).json() == {"status": "ok"}
        assert loaded(live) == ["gated"]
    finally:
        GATE.release.set()
        stop_server(live)


def test_a_loaded_model_answers_while_another_loads(gated):
    """Loading one model must not hold up requests to a model that is already in."""
    settings = ServerSettings(models=["smollm2"], n_ctx=512, threads=2, parallel=1, keep_alive=-1)
    live = start_server(settings, gated)
    try:
        assert chat(live, "smollm2").status_code == 200
        request, answer = request_in_background(live, "gated")
        assert GATE.entered.wait(30)
        assert chat(live, "smollm2", max_tokens=1).status_code == 200  # while the load waits
        assert httpx.get(f"{live.url}/health", timeout=60).json() == {"status": "loading"}
        assert not answer  # the gated request is still waiting for its model
        GATE.release.set()
        request.join(60)
        assert answer[0].status_code == 200
        assert sorted(loaded(live)) == ["gated", "smollm2"]
    finally:
        GATE.release.set()
        stop_server(live)

"""The page's guards (issue 21): under `danlu serve --ui` with a key, every route of the page's
API wants the login (gradio leaves the heartbeat stream, cancel, reset and startup-events
open); uploads are held to the page's own limit, which the page states, not the API's body
limit; a password that is not ASCII is a refusal, not a 500; other sites' pages are refused.

A real server on an ephemeral loopback port, real HTTP, and the login form in Chromium.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from danlu.config import Settings
from danlu.server import ServerSettings, create_app
from danlu.server.serving import api_server
from danlu.ui import UIContext, UISettings, mount
from danlu.ui.server import attach
from tests.ui.page import Page

KEY = "k1"
WIDE_KEY = "sekrét"
API_BODY_LIMIT = ServerSettings().max_body_bytes
OPEN_IN_GRADIO = [  # routes gradio itself does not put behind its login
    ("GET", "/ui/gradio_api/startup-events", None),
    ("POST", "/ui/gradio_api/cancel", {"session_hash": "s", "fn_index": 0, "event_id": "e"}),
    ("POST", "/ui/gradio_api/reset", {"event_id": "e"}),
    ("GET", "/ui/gradio_api/runs", None),
    ("GET", "/ui/gradio_api/app_id", None),
]


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` on an ephemeral loopback port in a thread; its URL once /health answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = api_server(app, grace=1.0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    deadline = time.monotonic() + 120
    while not _healthy(url):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def keyed_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`danlu serve --ui` with two keys, one of them not ASCII: its URL."""
    settings = Settings(home=tmp_path_factory.mktemp("keyed-page-home"))
    app = create_app(ServerSettings(api_keys=[KEY, WIDE_KEY]), settings)
    attach(app, "127.0.0.1", {KEY, WIDE_KEY}, settings)
    with serving(app) as url:
        yield url


@contextlib.contextmanager
def logged_in(url: str, password: str = KEY) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60) as client:
        r = client.post("/ui/login", data={"username": "me", "password": password})
        assert r.status_code == 200, r.text
        yield client


def test_the_heartbeat_stream_wants_the_login(keyed_page):
    with httpx.stream("GET", f"{keyed_page}/ui/gradio_api/heartbeat/anything", timeout=30) as r:
        assert r.status_code == 401
    with (
        logged_in(keyed_page) as client,
        client.stream("GET", "/ui/gradio_api/heartbeat/mine") as r,
    ):
        assert r.status_code == 200  # the page's own stream, once logged in


@pytest.mark.parametrize(("method", "path", "body"), OPEN_IN_GRADIO)
def test_the_routes_gradio_leaves_open_want_the_login(keyed_page, method, path, body):
    r = httpx.request(method, f"{keyed_page}{path}", json=body, timeout=30)
    assert r.status_code == 401, r.text
    with logged_in(keyed_page) as client:
        assert client.request(method, path, json=body).status_code == 200


def test_the_login_form_and_the_page_stay_open(keyed_page):
    assert httpx.get(f"{keyed_page}/ui/", timeout=60).status_code == 200
    assert httpx.get(f"{keyed_page}/ui/config", timeout=60).status_code == 401
    with logged_in(keyed_page) as client:
        assert client.get("/ui/config").status_code == 200


def test_a_password_that_is_not_ascii_is_checked_not_a_500(keyed_page):
    wrong = httpx.post(
        f"{keyed_page}/ui/login", data={"username": "me", "password": "sekrét!"}, timeout=60
    )
    assert wrong.status_code == 400
    with logged_in(keyed_page, WIDE_KEY) as client:
        assert client.get("/ui/config").status_code == 200


def test_an_upload_above_the_api_body_limit_is_the_pages_to_take(keyed_page):
    """The page takes files up to its own limit (50 MiB), not the API's 8 MiB body limit,
    and says so beside each upload box."""
    big = b"x" * (API_BODY_LIMIT + 2**20)
    with logged_in(keyed_page) as client:
        r = client.post("/ui/gradio_api/upload", files={"files": ("big.md", big)})
        assert r.status_code == 200, r.text
        config = client.get("/ui/config")
    assert config.json()["max_file_size"] == UISettings().max_upload_bytes
    assert "up to 50 MiB a file" in config.text


def test_the_api_keeps_its_body_limit_beside_the_page(keyed_page):
    big = b"x" * (API_BODY_LIMIT + 1)
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    r = httpx.post(f"{keyed_page}/v1/chat/completions", content=big, headers=headers, timeout=60)
    assert r.status_code == 413


def test_a_file_over_the_pages_limit_is_refused_as_it_streams(danlu_home):
    ctx = UIContext.create(UISettings(max_upload_mb=1), Settings(home=danlu_home))
    client = TestClient(mount(FastAPI(), ctx, "/"))
    r = client.post("/gradio_api/upload", files={"files": ("a.md", b"x" * (2**20 + 1))})
    assert r.status_code == 413
    assert client.post("/gradio_api/upload", files={"files": ("a.md", b"x" * 2**20)}).is_success


def test_other_sites_cannot_drive_the_page(keyed_page):
    evil = {"origin": "https://evil.example"}
    r = httpx.post(f"{keyed_page}/ui/gradio_api/queue/join", json={}, headers=evil, timeout=30)
    assert r.status_code == 403
    rebound = {"host": "evil.example"}
    assert httpx.get(f"{keyed_page}/ui/", headers=rebound, timeout=30).status_code == 403


def test_the_login_form_in_the_browser_opens_the_page(browser, keyed_page, artifacts):
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    try:
        page = Page(browser, f"{keyed_page}/ui", artifacts)
        browser.get(f"{keyed_page}/ui/")
        page.wait(lambda: browser.find_elements(By.CSS_SELECTOR, "input[type=password]"))
        browser.find_element(By.CSS_SELECTOR, "input[type=text]").send_keys("me")
        password = browser.find_element(By.CSS_SELECTOR, "input[type=password]")
        password.send_keys(KEY, Keys.ENTER)
        page.wait(lambda: browser.find_elements(By.ID, "jobs-panel"))
        page.tab("Knowledge")
        page.wait(lambda: "up to 50 MiB a file" in page.text("kb-upload"))
        page.shot("serve-ui-login")
    finally:
        browser.close()
        browser.switch_to.window(first)

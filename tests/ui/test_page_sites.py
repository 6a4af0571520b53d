"""`danlu ui` answers only its own pages and names (issue 21, finding 4, for the page alone).

A web page the user visits could post to the page on 127.0.0.1:8586 (start a training run,
ingest a file into a knowledge base) and, by rebinding its own DNS name, read the answers.
`danlu ui` now holds to `danlu serve`'s rule (server/sites.py): foreign Host names and other
sites' pages are refused with a 403, localhost pages and the page's own are answered, and
`--allowed-hosts`/`--allowed-origins` add more; every request but an upload has a body limit.

Real `danlu ui` processes on ephemeral loopback ports, raw HTTP, and the page in Chromium
under a name that is not loopback (the browser maps it to 127.0.0.1), where gradio's own
requests carry the page's own origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from danlu.cli.main import main
from danlu.ui import UISettings
from tests.ui.conftest import PAGE_NAME, danlu_process
from tests.ui.page import Page

BANNER = r"danlu ui on (http://\S+)"
TOOLS = "http://tools.example:3000"  # a page given with --allowed-origins
EVIL = "https://evil.example"
REBOUND = "evil.example"  # a public name a rebinding page points at 127.0.0.1


def _start(home: Path, *flags: str) -> Iterator[str]:
    with danlu_process(["ui", "--port", "0", "--no-browser", *flags], home, BANNER) as url:
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def plain_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`danlu ui` as a user starts it: loopback, no flags."""
    yield from _start(tmp_path_factory.mktemp("plain-page-home"))


@pytest.fixture(scope="module")
def named_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`danlu ui` that answers to PAGE_NAME and to the page at TOOLS."""
    home = tmp_path_factory.mktemp("named-page-home")
    yield from _start(home, "--allowed-hosts", PAGE_NAME, "--allowed-origins", TOOLS)


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def test_a_foreign_host_name_is_refused(plain_page):
    """A DNS-rebinding page reaches 127.0.0.1 under its own public name: no answer to read."""
    host = {"host": f"{REBOUND}:{_port(plain_page)}"}
    for path in ("/", "/config", "/gradio_api/info"):
        r = httpx.get(f"{plain_page}{path}", headers=host, timeout=60)
        assert r.status_code == 403, (path, r.status_code)
    assert "does not answer to the host name 'evil.example" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("content_type", "origin"),
    [
        ("text/plain", EVIL),  # a "simple" request: the browser sends it without asking
        ("application/x-www-form-urlencoded", EVIL),
        ("application/json", EVIL),
        ("text/plain", "null"),  # a sandboxed frame or a file page, of any site
        ("text/plain", "http://evil.example:8586"),  # the page's port, another host
    ],
)
def test_another_sites_page_cannot_drive_the_page(plain_page, content_type, origin):
    body = b'{"data": [], "fn_index": 0, "session_hash": "x"}'
    headers = {"origin": origin, "content-type": content_type}
    for path in ("/gradio_api/queue/join", "/gradio_api/reset", "/gradio_api/upload"):
        r = httpx.post(f"{plain_page}{path}", content=body, headers=headers, timeout=60)
        assert r.status_code == 403, (path, r.status_code, r.text)
    assert "are not allowed" in r.json()["error"]["message"]


def test_a_body_over_the_limit_is_refused_before_gradio_reads_it(plain_page):
    limit = UISettings().max_body_bytes
    big = b'{"data": ["' + b"x" * limit + b'"], "fn_index": 0, "session_hash": "x"}'
    headers = {"content-type": "application/json"}
    url = f"{plain_page}/gradio_api/queue/join"
    assert httpx.post(url, content=big, headers=headers, timeout=60).status_code == 413
    chunks = (big[i : i + 2**16] for i in range(0, len(big), 2**16))  # no Content-Length
    assert httpx.post(url, content=chunks, headers=headers, timeout=60).status_code == 413


def test_an_upload_keeps_the_pages_own_limit(plain_page):
    """Uploads are held to --max-upload-mb (50 MiB), not to the body limit of other requests."""
    big = b"x" * (UISettings().max_body_bytes + 2**20)
    files = {"files": ("big.md", big)}
    r = httpx.post(f"{plain_page}/gradio_api/upload", files=files, timeout=60)
    assert r.status_code == 200, r.text


def test_local_pages_and_the_pages_own_origin_are_answered(plain_page):
    for origin in (plain_page, "http://localhost:5173", "http://127.0.0.1:8080"):
        headers = {"origin": origin}
        r = httpx.post(f"{plain_page}/gradio_api/reset", json={"event_id": "e"}, headers=headers)
        assert r.status_code == 200, (origin, r.text)
    assert httpx.get(f"{plain_page}/", timeout=60).status_code == 200


def test_the_allowed_name_and_origin_are_answered(named_page):
    port = _port(named_page)
    named = {"host": f"{PAGE_NAME}:{port}"}
    r = httpx.get(f"{named_page}/", headers=named, timeout=60)
    assert r.status_code == 200 and "<html" in r.text.lower()
    own = {**named, "origin": f"http://{PAGE_NAME}:{port}"}  # the page as the browser has it
    reset = f"{named_page}/gradio_api/reset"
    assert httpx.post(reset, json={"event_id": "e"}, headers=own, timeout=60).status_code == 200
    tools = {"origin": TOOLS}  # the allowed page may post and read the answer (CORS)
    r = httpx.post(reset, json={"event_id": "e"}, headers=tools, timeout=60)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == TOOLS
    other = {"origin": "http://other.example:3000"}
    assert httpx.post(reset, json={"event_id": "e"}, headers=other, timeout=60).status_code == 403


def test_a_value_that_is_no_origin_is_one_line_at_start(capsys):
    assert main(["ui", "--no-browser", "--allowed-origins", "tools.example"]) == 1
    err = capsys.readouterr().err
    assert "'tools.example' is not an origin" in err and "Traceback" not in err


def test_the_page_works_under_its_own_name_in_the_browser(browser, named_page, artifacts):
    """Chromium maps PAGE_NAME to 127.0.0.1 (conftest's FLAGS): gradio's requests carry the
    page's own origin, which is not loopback, and the page still answers them."""
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    try:
        page = Page(browser, f"http://{PAGE_NAME}:{_port(named_page)}", artifacts)
        page.open()
        page.type("chat-input", "   ")
        page.click("chat-send")  # the handler's notice comes back through the queue's stream
        page.wait(lambda: any("Type a message first" in e for e in page.errors()))
        page.shot("page-under-its-own-name")
    finally:
        browser.close()
        browser.switch_to.window(first)

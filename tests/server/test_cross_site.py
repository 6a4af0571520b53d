"""A hostile web page and a hostile client at the request guard, on real servers on loopback.

A page the user visits may send "simple" requests (text/plain, form bodies) without a CORS
preflight, or rebind its own DNS name to 127.0.0.1 and read the answers: the guard refuses
a browser Origin that is not allowed (403), a Host header that names another site (403), and
a body that is not JSON (415). Header bytes that are not UTF-8 and keys that are not ASCII
are a 401 or are ignored, never a 500. The official clients and curl's form-encoded JSON keep
working. The fuzz at the end throws hostile headers at the guard: no 5xx, and a normal chat
completes afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from danlu.errors import InvalidParameter
from danlu.server import ServerSettings
from tests.server.conftest import LiveServer, start_server, stop_server

KEY = "k-123"
WIDE_KEY = "sekrét"  # a key that is not ASCII: sent as its UTF-8 bytes
EVIL = "https://evil.example"
APP = "https://app.example"  # the page the `listed` server allows
CHAT = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
SIMPLE = {"content-type": "text/plain;charset=UTF-8"}  # what fetch() sends without preflight
FUZZ = settings(
    deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Keys, one of them not ASCII; models load on demand."""
    server = start_server(
        ServerSettings(api_keys=[KEY, WIDE_KEY], n_ctx=512, threads=2, parallel=2, keep_alive=-1),
        tmp_path_factory.mktemp("keyed-home"),
    )
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One page and one host name allowed beside the defaults; nothing loaded."""
    settings = ServerSettings(allowed_origins=[APP], allowed_hosts=["llm.example"])
    server = start_server(settings, tmp_path_factory.mktemp("listed-home"))
    yield server
    stop_server(server)


def port(live: LiveServer) -> int:
    return int(live.url.rsplit(":", 1)[1])


def send(live: LiveServer, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{live.url}{path}", timeout=120, **kwargs)


def tags(live: LiveServer) -> list[str]:
    return [m["name"] for m in send(live, "GET", "/api/tags").json()["models"]]


# -- finding 4: cross-site requests ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", CHAT),
        ("/api/copy", {"source": "smollm2", "destination": "stolen"}),
        ("/v1/kb/notes/add", {"paths": ["/etc/hostname"]}),
    ],
)
@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", "application/json"])
def test_a_post_from_another_site_is_refused_before_it_runs(live, path, body, content_type):
    headers = {"origin": EVIL, "content-type": content_type}
    r = send(live, "POST", path, json=body, headers=headers)
    assert r.status_code == 403, r.text
    assert "origin" in r.text and EVIL in r.text
    assert "stolen" not in tags(live)  # /api/copy did not run


def test_a_form_post_from_another_site_is_refused(live):
    """An HTML form posts url-encoded: the encoding curl -d uses, so it is kept, but only for
    requests no other site sent."""
    form = {"origin": EVIL, "content-type": "application/x-www-form-urlencoded"}
    body = b'{"source": "smollm2", "destination": "stolen"}'
    assert send(live, "POST", "/api/copy", content=body, headers=form).status_code == 403
    assert "stolen" not in tags(live)


def test_a_sandboxed_page_origin_null_is_refused(live):
    r = send(live, "POST", "/v1/chat/completions", json=CHAT, headers={"origin": "null"})
    assert r.status_code == 403


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example.", "127.0.0.1.nip.io", "localhost.evil.example"]
)
def test_a_rebound_dns_name_is_refused(live, host):
    """DNS rebinding: the page's own name now points at 127.0.0.1, so the browser sends it
    as Host (and no Origin on a same-origin GET)."""
    r = send(live, "GET", "/v1/models", headers={"host": f"{host}:{port(live)}"})
    assert r.status_code == 403, r.text
    assert "host" in r.json()["error"]["message"].lower()
    r = send(live, "POST", "/api/chat", json=CHAT, headers={"host": host})
    assert r.status_code == 403 and set(r.json()) == {"error"}  # Ollama's shape on /api


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "LOCALHOST.",
        "[::1]",
        "10.1.2.3",  # an address: a client that dialled it, no DNS to rebind
        "app.localhost",
        "host.docker.internal",  # Open WebUI in a container reaching the host
        "box.local",
        "danlu",  # a name without a dot: a compose service, the machine's own name
    ],
)
def test_addresses_and_local_names_are_answered(live, host):
    r = send(live, "GET", "/v1/models", headers={"host": f"{host}:{port(live)}"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:3000",
        "http://127.0.0.1:5173",
        "https://app.localhost",
        "http://[::1]:8080",
    ],
)
def test_pages_on_this_machine_may_call_and_read(live, origin):
    r = send(live, "POST", "/tokenize", json={"content": "hi"}, headers={"origin": origin})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == origin


def test_the_servers_own_pages_may_call_it(live):
    """/docs (Swagger UI) and the /ui page post to the server that served them."""
    host = f"danlu:{port(live)}"  # a name that is not loopback: only its own pages may call
    own = {"origin": f"http://{host}", "host": host}
    r = send(
        live,
        "POST",
        "/tokenize",
        json={"content": "hi"},
        headers={**own, "origin": "http://danlu:1"},
    )
    assert r.status_code == 403
    assert send(live, "POST", "/tokenize", json={"content": "hi"}, headers=own).status_code == 200


def test_local_apps_and_extensions_are_not_web_sites(live):
    for origin in ("vscode-webview://1abc", "app://obsidian.md", "chrome-extension://abcdef"):
        r = send(live, "GET", "/api/tags", headers={"origin": origin})
        assert r.status_code == 200, (origin, r.text)


def test_a_listed_page_and_host_are_allowed_and_others_are_not(listed):
    r = send(listed, "GET", "/v1/models", headers={"origin": APP})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == APP
    preflight = {"origin": APP, "access-control-request-method": "POST"}
    assert send(listed, "OPTIONS", "/v1/chat/completions", headers=preflight).status_code == 200
    other = {**preflight, "origin": EVIL}
    assert send(listed, "OPTIONS", "/v1/chat/completions", headers=other).status_code == 403
    assert send(listed, "GET", "/v1/models", headers={"origin": EVIL}).status_code == 403
    assert send(listed, "GET", "/v1/models", headers={"host": "llm.example"}).status_code == 200
    assert send(listed, "GET", "/v1/models", headers={"host": "llm2.example"}).status_code == 403


def test_a_body_that_is_not_json_is_415(live):
    """Without an Origin (curl, scripts) a text/plain or multipart body is still not JSON."""
    r = send(live, "POST", "/v1/chat/completions", json=CHAT, headers=SIMPLE)
    assert r.status_code == 415, r.text
    assert "application/json" in r.json()["error"]["message"]
    files = {"file": ("a.json", b"{}", "application/json")}
    r = send(live, "POST", "/api/chat", files=files)
    assert r.status_code == 415 and set(r.json()) == {"error"}


def test_json_with_a_charset_or_a_json_suffix_is_read(live):
    for kind in ("application/json; charset=utf-8", "application/vnd.api+json"):
        r = send(live, "POST", "/tokenize", json={"content": "hi"}, headers={"content-type": kind})
        assert r.status_code == 200, (kind, r.text)


def test_the_official_clients_send_no_origin_and_keep_working(live):
    url = f"http://localhost:{port(live)}"
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)
    answer = client.chat.completions.create(**CHAT)
    assert answer.choices[0].message.content is not None
    reply = ollama.Client(host=url, timeout=120).chat(
        model="smollm2", messages=CHAT["messages"], options={"num_predict": 2}
    )
    assert reply.message.content is not None


def test_a_malformed_allowed_origin_or_host_stops_the_server_before_it_binds():
    with pytest.raises(InvalidParameter, match="scheme://host"):
        ServerSettings.build(allowed_origins=["localhost:3000"])
    with pytest.raises(InvalidParameter, match="not a host name"):
        ServerSettings.build(allowed_hosts=["http://llm.example/"])
    assert ServerSettings.build(allowed_origins=["*"], allowed_hosts=["*"]).allowed_hosts == ["*"]


def test_the_schema_documents_the_guards_refusals(live):
    spec = send(live, "GET", "/openapi.json").json()["paths"]
    assert {"403", "415"} <= set(spec["/v1/chat/completions"]["post"]["responses"])
    assert {"403", "415"} <= set(spec["/api/copy"]["post"]["responses"])
    assert "403" in spec["/v1/models"]["get"]["responses"]


# -- finding 7: header bytes and keys that are not ASCII ------------------------------------


def test_a_key_that_is_not_ascii_is_compared_as_bytes(keyed):
    def models(authorization: bytes) -> int:
        return send(
            keyed, "GET", "/v1/models", headers={"authorization": authorization}
        ).status_code

    assert models(b"Bearer " + WIDE_KEY.encode()) == 200
    assert models(b"Bearer " + "sekr\u00e9t!".encode()) == 401
    assert models(b"Bearer " + "sekrét".encode("latin-1")) == 401  # not its UTF-8 bytes
    assert models(b"Bearer \xff\xfe") == 401
    r = send(keyed, "GET", "/api/tags", headers={"x-api-key": b"\xe9"})
    assert r.status_code == 401 and set(r.json()) == {"error"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/health", None),
        ("GET", "/v1/models", None),
        ("GET", "/api/tags", None),
        ("GET", "/metrics", None),
        ("POST", "/v1/chat/completions", CHAT),
        ("POST", "/api/show", {"model": "smollm2"}),
    ],
)
def test_a_header_that_is_not_utf8_is_no_500(live, method, path, body):
    """RFC 9110 lets a header value carry obs-text bytes: one the server does not read is
    ignored, one it reads (Origin, Host) is refused."""
    odd = {"x-note": b"caf\xe9 \xff", "user-agent": b"\xc3\x28"}
    assert send(live, method, path, json=body, headers=odd).status_code == 200
    assert (
        send(live, method, path, json=body, headers={"origin": b"http://\xff"}).status_code == 403
    )
    assert send(live, method, path, json=body, headers={"host": b"\xe9vil"}).status_code == 403


# -- the fuzz: hostile headers, then a normal chat -------------------------------------------

READ = ["authorization", "x-api-key", "origin", "host", "content-type", "cookie"]
NAMES = st.sampled_from([*READ, "x-forwarded-for", "accept", "user-agent", "x-note"])
# bytes h11 will put in a header value: visible ASCII, space, tab, and obs-text
VALUE_BYTES = st.binary(max_size=24).map(
    lambda raw: bytes(b for b in raw if b == 9 or 32 <= b != 127).strip(b" \t")
)
VALUES = st.one_of(
    VALUE_BYTES,
    st.sampled_from(
        [
            b"Bearer " + WIDE_KEY.encode(),
            b"Bearer ",
            b"null",
            b"http://",
            b"[::1",
            b":",
            b"*",
            b"text/plain",
            b"application/json;;",
            b"evil.example:99999",
            b"http://localhost:0",
            b"multipart/form-data; boundary=x",
            b"localhost:abc",
            b"xn--e1afmkfd.example",
        ]
    ),
)
ROUTES = st.sampled_from(
    [
        ("GET", "/v1/models", None),
        ("GET", "/api/tags", None),
        ("GET", "/health", None),
        ("POST", "/tokenize", {"content": "hi"}),
        ("POST", "/api/show", {"model": "smollm2"}),
        ("OPTIONS", "/v1/chat/completions", None),
        ("POST", "/api/copy", {"source": "x", "destination": "y"}),
    ]
)


@pytest.mark.parametrize("which", ["live", "keyed"])
def test_hostile_headers_are_never_a_5xx(request, which):
    server: LiveServer = request.getfixturevalue(which)

    @given(route=ROUTES, headers=st.dictionaries(NAMES, VALUES, max_size=4))
    @settings(FUZZ, max_examples=60)  # ~12 s a server here: the suite's fuzzing stays short
    def check(route, headers) -> None:
        method, path, body = route
        try:
            r = send(server, method, path, json=body, headers=headers)
        except httpx.LocalProtocolError:  # a value h11 itself will not send
            return
        assert r.status_code < 500, (headers, r.status_code, r.text)

    check()
    auth = {"authorization": f"Bearer {KEY}"} if which == "keyed" else {}
    r = send(server, "POST", "/v1/chat/completions", json=CHAT, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] is not None

"""`danlu serve --ui`: the page at /ui of the API app, behind a login that takes an API key."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from danlu.config import Settings
from danlu.errors import InvalidParameter
from danlu.server import ServerSettings, create_app
from danlu.ui.server import attach


def test_the_page_sits_beside_the_apis_and_its_login_takes_an_api_key(danlu_home):
    app = create_app(ServerSettings(api_keys=["k1"]), Settings(home=danlu_home))
    attach(app, "127.0.0.1", {"k1"}, Settings(home=danlu_home))
    client = TestClient(app)
    assert client.get("/v1/models").status_code == 401  # the APIs still want the key
    assert client.get("/ui/").status_code == 200  # the page answers with its login form
    assert client.get("/ui/config").status_code == 401  # but shows nothing before it
    wrong = client.post("/ui/login", data={"username": "me", "password": "nope"})
    assert wrong.status_code >= 400
    right = client.post("/ui/login", data={"username": "me", "password": "k1"})
    assert right.status_code == 200
    assert client.get("/ui/config").status_code == 200


def test_an_open_page_off_loopback_is_refused(danlu_home):
    app = create_app(ServerSettings(), Settings(home=danlu_home))
    with pytest.raises(InvalidParameter, match="without a login"):
        attach(app, "0.0.0.0", set(), Settings(home=danlu_home))

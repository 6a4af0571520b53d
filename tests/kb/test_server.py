"""/v1/kb over a live server: list, show, search, add, and grounded OpenAI chat."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

import danlu.kb
from danlu.config import Settings
from danlu.kb.answer import ABSTAIN
from danlu.server import ServerSettings
from tests.server.conftest import start_server, stop_server


@pytest.fixture(scope="module")
def kb_root(tmp_path_factory) -> Path:
    """The folder the server may read documents from (--kb-roots)."""
    return tmp_path_factory.mktemp("kb-root")


@pytest.fixture(scope="module")
def kb_server(tmp_path_factory, corpus: Path, embedder, kb_root: Path) -> Iterator[str]:
    """A server on an ephemeral port whose DANLU_HOME holds KB 'hb' (handbook, FAQ)."""
    home = tmp_path_factory.mktemp("kb-server-home")
    with danlu.kb.create("hb", settings=Settings(home=home), embedder=embedder) as kb:
        kb.add([corpus / "handbook.md", corpus / "faq.html"])
    settings = ServerSettings(
        models=["smollm2"], n_ctx=2048, threads=2, parallel=1, kb_roots=[kb_root]
    )
    live = start_server(settings, home)
    yield live.url
    stop_server(live)


def test_list_show_search_and_add(kb_server: str, corpus: Path, kb_root: Path):
    listing = httpx.get(f"{kb_server}/v1/kb").json()
    assert [k["id"] for k in listing["data"]] == ["hb"]
    shown = httpx.get(f"{kb_server}/v1/kb/hb").json()
    assert shown["embedder"] == "minilm" and shown["counts"]["files"] == 2
    found = httpx.post(
        f"{kb_server}/v1/kb/hb/search", json={"query": "reset my password", "k": 2}, timeout=60
    ).json()
    assert "Forgot password" in found["data"][0]["text"]
    shutil.copy(corpus / "policy.pdf", kb_root / "policy.pdf")
    added = httpx.post(
        f"{kb_server}/v1/kb/hb/add", json={"paths": [str(kb_root)]}, timeout=120
    ).json()
    assert added["added"] == [str(kb_root / "policy.pdf")] and added["chunks"] >= 2
    empty = httpx.post(f"{kb_server}/v1/kb/hb/search", json={"query": "   "}, timeout=30)
    assert empty.status_code == 400 and "the query is empty" in empty.json()["error"]["message"]


def test_an_unknown_kb_is_an_openai_style_404(kb_server: str):
    reply = httpx.post(f"{kb_server}/v1/kb/nope/search", json={"query": "x"}, timeout=30)
    assert reply.status_code == 404
    assert "no knowledge base named 'nope'" in reply.json()["error"]["message"]


def test_the_openai_client_chats_with_a_kb(kb_server: str):
    client = openai.OpenAI(base_url=f"{kb_server}/v1/kb/hb", api_key="none")
    reply = client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "How do I reset my password?"}],
        temperature=0,
        max_tokens=48,
    )
    raw = reply.model_dump()
    assert reply.choices[0].message.content
    assert raw["sources"] and "Forgot password" in raw["sources"][0]["text"]
    assert all(c["valid"] for c in raw["citations"])


def test_a_kb_model_name_on_the_plain_chat_route_answers_from_the_kb(kb_server: str):
    """model="kb:hb" on /v1/chat/completions is the same grounded answer as /v1/kb/hb."""
    ask = {
        "messages": [{"role": "user", "content": "How do I reset my password?"}],
        "temperature": 0,
        "max_tokens": 24,
    }
    plain = openai.OpenAI(base_url=f"{kb_server}/v1", api_key="none")
    aliased = plain.chat.completions.create(model="kb:hb", **ask).model_dump()
    routed = openai.OpenAI(base_url=f"{kb_server}/v1/kb/hb", api_key="none")
    direct = routed.chat.completions.create(model="smollm2", **ask).model_dump()
    assert aliased["choices"][0]["message"] == direct["choices"][0]["message"]
    assert aliased["sources"] == direct["sources"] and aliased["model"] == "smollm2"
    with pytest.raises(openai.NotFoundError):
        plain.chat.completions.create(model="kb:nope", **ask)


def test_a_kb_chat_streams(kb_server: str):
    client = openai.OpenAI(base_url=f"{kb_server}/v1/kb/hb", api_key="none")
    stream = client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Who do I call when my laptop breaks?"}],
        temperature=0,
        max_tokens=16,
        stream=True,
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_a_kb_chat_abstains_when_nothing_is_relevant(kb_server: str):
    client = openai.OpenAI(base_url=f"{kb_server}/v1/kb/hb", api_key="none")
    reply = client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Who won the football world cup in 1954?"}],
    )
    assert reply.choices[0].message.content == ABSTAIN
    assert reply.model_dump()["sources"] == []

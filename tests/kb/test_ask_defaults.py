"""`danlu kb ask`, the page's chat and /v1/kb/NAME/chat/completions ask with one set of
defaults, AskOptions': each edge's search is spied on, with nothing found, so that each
answers "I don't know" without loading a model."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from danlu.config import Settings
from danlu.kb import AskOptions, KnowledgeBase, create
from danlu.kb.answer import ABSTAIN
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture

QUESTION = [{"role": "user", "content": "When is the office open?"}]


@pytest.fixture
def asked(danlu_home, embedder, monkeypatch) -> list:
    """The options each `sources_for` call got; an empty knowledge base 'hb' to ask."""
    create("hb", settings=Settings(home=danlu_home), embedder=embedder).close()
    seen: list = []

    def spy(self, question: str, options: AskOptions | None = None) -> list:
        seen.append(options)
        return []

    monkeypatch.setattr(KnowledgeBase, "sources_for", spy)
    return seen


def test_the_cli_the_page_and_the_server_ask_alike(danlu, asked, danlu_home):  # noqa: F811
    pytest.importorskip("gradio", reason="the ui extra is not installed")
    from fastapi.testclient import TestClient

    from danlu.server import ServerSettings, create_app
    from danlu.ui.chat_tab import SLIDERS, ChatActions
    from danlu.ui.context import UIContext, UISettings

    said = danlu("kb", "ask", "hb", QUESTION[0]["content"], "--json")
    assert said.code == 0 and json.loads(said.out)["abstained"], said.err
    settings = Settings(home=danlu_home)
    ctx = UIContext.create(UISettings(), settings)
    try:
        untouched = [SLIDERS[k] for k in ("temperature", "top_p", "top_k", "max_tokens", "seed")]
        request = SimpleNamespace(session_hash="s")
        *_, (shown, _, _) = ChatActions(ctx).respond(
            QUESTION, "smollm2", "hb", "", *untouched, request
        )
        assert shown[-1]["content"] == ABSTAIN
    finally:
        ctx.close()
    with TestClient(create_app(ServerSettings(), settings)) as client:
        body = {"model": "smollm2", "messages": QUESTION}
        reply = client.post("/v1/kb/hb/chat/completions", json=body).json()
        assert reply["choices"][0]["message"]["content"] == ABSTAIN
    assert asked == [AskOptions()] * 3
    assert (asked[0].k, asked[0].min_similarity, asked[0].max_tokens) == (3, 0.2, 512)

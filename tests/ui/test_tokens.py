"""The Tokens tab: a text's pieces as spans whose ids are SmolLM2's own, joined back to the
text, and the count redrawn as the text changes (handlers alone, then a real browser)."""

from __future__ import annotations

import html
import re

from danlu.config import Settings

SPAN = re.compile(r'<span class="([^"]*)" data-id="(\d+)" title="[^"]*">(.*?)</span>', re.S)
TEXT = "丹炉 heats 鑫 and 🔥"


def spans(markup: str) -> list[tuple[str, int, str]]:
    return [(cls, int(i), html.unescape(shown)) for cls, i, shown in SPAN.findall(markup)]


def test_the_pieces_are_the_engines_tokens_and_join_back(danlu_home, model):
    from danlu.ui.context import UIContext, UISettings
    from danlu.ui.tokens_tab import TokenActions

    ctx = UIContext.create(UISettings(), Settings(home=danlu_home))
    try:
        markup, counts = TokenActions(ctx).show("smollm2", TEXT, False)
        assert ctx.models._model is None  # counted by the tokenizer alone: no chat model swap
        chat_markup, _ = TokenActions(ctx).show("smollm2", "hi", True)
        assert TokenActions(ctx).show("smollm2", "", False) == ("", "")
    finally:
        ctx.close()
    ids = model.engine.tokenize(TEXT)
    found = spans(markup)
    assert [i for _, i, _ in found] == ids
    assert "".join(shown for _, _, shown in found) == TEXT
    assert [cls.split()[1] for cls, _, _ in found] == [f"tok-{n % 2}" for n in range(len(ids))]
    pieces = [model.engine.piece(i) for i in ids]
    bytes_ = [n for n, p in enumerate(pieces) if len(p) == 1 and p[0] >= 0x80]
    assert bytes_ and [n for n, (cls, _, _) in enumerate(found) if "byte" in cls] == bytes_
    per_token = len(TEXT) / len(ids)
    assert f"**{len(ids)} tokens** · {len(TEXT)} characters · {per_token:.2f}" in counts
    chat = spans(chat_markup)
    assert [shown for cls, _, shown in chat if "special" in cls][:1] == ["<|im_start|>"]
    assert "".join(shown for _, _, shown in chat) == model.render(
        [{"role": "user", "content": "hi"}]
    )


def _count(page) -> str:
    return page.text("tokens-count")


def test_the_tab_counts_live_as_the_text_changes(page, model):
    page.tab("Tokens")
    page.type("tokens-input", TEXT)
    n = len(model.engine.tokenize(TEXT))
    page.wait(lambda: _count(page).startswith(f"{n} tokens · {len(TEXT)} characters"))
    ids = [
        int(s.get_attribute("data-id"))
        for s in page.driver.find_elements("css selector", "#tokens-view span[data-id]")
    ]
    assert ids == model.engine.tokenize(TEXT)
    page.shot("tokens")
    longer = TEXT + " and more words"
    page.type("tokens-input", longer)
    m = len(model.engine.tokenize(longer))
    assert m != n  # or the redraw would go unseen
    page.wait(lambda: _count(page).startswith(f"{m} tokens · {len(longer)} characters"))

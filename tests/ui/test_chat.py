"""The Chat tab in a real browser, answered by the real SmolLM2."""

from __future__ import annotations

import json

LONG = "Count from 1 to 1000, one number per line."


def _clear(page) -> None:
    page.click("chat-clear")
    page.wait(lambda: not page.bot_messages() and not page.text("chat-speed").strip())


def test_a_message_streams_an_answer_with_its_speed(page, ui_home):
    page.tab("Chat")
    page.type("chat-input", "Say hello.", enter=True)
    page.wait(lambda: page.bot_messages() and page.bot_messages()[-1].strip())
    page.wait(lambda: "tok/s" in page.text("chat-speed"))
    assert "generation:" in page.text("chat-speed")
    page.shot("chat")
    # saved chats are the files `danlu run` reads with /load
    page.type("chat-save-name", "ui")
    page.click("chat-save")
    page.wait(lambda: "Saved" in page.text("chat-note"))
    saved = json.loads((ui_home / "sessions" / "ui.json").read_text())
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"]
    assert saved["messages"][0]["content"] == "Say hello."


def test_stop_ends_a_long_answer(page):
    page.tab("Chat")
    _clear(page)
    page.type("chat-input", LONG, enter=True)
    page.wait(lambda: page.bot_messages() and len(page.bot_messages()[-1]) > 20)
    page.click("chat-stop")
    page.wait(lambda: page.text("chat-speed").strip())
    assert page.text("chat-speed").strip() == "stopped"
    # the model is free again: the next message is answered
    _clear(page)
    page.type("chat-input", "Say hi.", enter=True)
    page.wait(lambda: "tok/s" in page.text("chat-speed"))


def test_an_empty_message_is_a_readable_error(page):
    page.tab("Chat")
    page.type("chat-input", "   ")
    page.click("chat-send")
    page.wait(lambda: any("Type a message first" in e for e in page.errors()))
    assert not any("Traceback" in e for e in page.errors())

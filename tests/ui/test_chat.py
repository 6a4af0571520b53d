"""The Chat tab in a real browser, answered by the real SmolLM2."""

from __future__ import annotations

import json

from danlu.chat.messages import Message
from danlu.chat.sessions import Session, save_session
from danlu.config import Settings

# at temperature 0 SmolLM2 runs this past 1,500 tokens (a counting prompt ends after ~120)
LONG = "Write the numbers from 1 to 300 separated by commas."


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
    page.greedy(max_tokens=2048)  # greedy: the answer is long every time, not by chance
    page.type("chat-input", LONG, enter=True)
    page.wait(lambda: page.bot_messages() and len(page.bot_messages()[-1]) > 20)
    page.click("chat-stop")
    page.wait(lambda: page.text("chat-speed").strip())
    assert page.text("chat-speed").strip() == "stopped"
    # the model is free again: the next message is answered
    _clear(page)
    page.type("chat-input", "Say hi.", enter=True)
    page.wait(lambda: "tok/s" in page.text("chat-speed"))


def test_an_empty_message_is_a_short_notice_not_an_error(page):
    page.tab("Chat")
    _clear(page)
    page.type("chat-input", "   ")
    page.click("chat-send")
    page.wait(lambda: any("Type a message first" in e for e in page.errors()))
    kinds = page.driver.execute_script(
        """return [...document.querySelectorAll("[data-testid='toast-body']")]
            .map(t => t.className);"""
    )
    assert kinds and not any("error" in kind for kind in kinds), kinds  # a warning toast
    assert not page.user_messages() and not page.bot_messages()  # nothing was sent


def test_an_empty_message_sends_nothing_and_raises_nothing(danlu_home, recwarn):
    """The handlers alone (no browser): a gradio.Error would mark the chat red for seconds
    and log a traceback; a blank message is a notice, and nothing is answered."""
    from danlu.ui.chat_tab import ChatActions
    from danlu.ui.context import UIContext, UISettings
    from danlu.ui.names import NONE

    ctx = UIContext.create(UISettings(), Settings(home=danlu_home))
    try:
        act = ChatActions(ctx)
        history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
        assert act.add_user("   ", history) == ("   ", history)
        assert [str(w.message) for w in recwarn] == ["Type a message first."]
        answer = act.respond(history, "smollm2", NONE, "", 0.7, 0.95, 40, 8, -1, None)
        assert list(answer) == []
    finally:
        ctx.close()


def _send(page, text: str) -> None:
    """Send `text` and wait until its answer is complete (the speed line goes blank while
    it streams, then shows the speed: watched, so a quick answer cannot slip by)."""
    page.watch("chat-speed")
    page.type("chat-input", text, enter=True)
    page.wait(lambda: _answered(page))


def _answered(page) -> bool:
    seen = page.seen("chat-speed")
    return any("tok/s" not in t for t in seen[1:]) and "tok/s" in seen[-1]


def test_regenerate_repeats_a_greedy_answer_and_edit_replaces_the_last_question(page):
    page.tab("Chat")
    _clear(page)
    page.greedy(max_tokens=24)
    _send(page, "What is the capital of France?")
    _send(page, "Name one colour.")
    first = page.bot_messages()
    page.watch("chat-speed")
    page.click("chat-regenerate")
    page.wait(lambda: _answered(page))
    assert page.bot_messages() == first  # temperature 0: the same answer again
    page.click("chat-edit")
    box = page.find("#chat-input textarea")
    page.wait(lambda: box.get_attribute("value") == "Name one colour.")
    assert page.user_messages() == ["What is the capital of France?"]
    assert page.bot_messages() == first[:1]
    _send(page, "Name one animal.")
    assert page.user_messages() == ["What is the capital of France?", "Name one animal."]
    assert len(page.bot_messages()) == 2 and page.bot_messages()[0] == first[0]


def test_a_chat_saved_by_danlu_run_loads_with_its_turns(page, ui_home):
    turns = [("user", "Name a colour."), ("assistant", "Blue."), ("user", "Another?")]
    turns += [("assistant", "Green.")]
    session = Session(
        model="smollm2",
        system="Answer in one word.",
        messages=[Message(role=role, content=text) for role, text in turns],
    )
    save_session(Settings(home=ui_home).sessions_dir, "from-run", session)  # as /save does
    page.open()  # the saved chats are listed when the page loads
    page.tab("Chat")
    page.choose("chat-saved", "from-run")
    page.click("chat-load")
    page.wait(lambda: "Loaded 4 message(s) from 'from-run'" in page.text("chat-note"))
    assert page.user_messages() == ["Name a colour.", "Another?"]
    assert page.bot_messages() == ["Blue.", "Green."]
    system = page.find("#chat-system textarea").get_attribute("value")
    assert system == "Answer in one word."


def test_an_untouched_slider_leaves_a_modelfile_parameter_and_a_moved_one_wins(
    danlu_home, tmp_path, monkeypatch
):
    """The handlers alone: the sliders start at SamplingParams' defaults and send only what
    was moved, so a Modelfile's PARAMETER holds until its slider moves."""
    from types import SimpleNamespace

    from danlu.engine.sampling import SamplingParams
    from danlu.export.create import create_from_file
    from danlu.model import Model
    from danlu.ui.chat_tab import SLIDERS, ChatActions
    from danlu.ui.context import UIContext, UISettings
    from danlu.ui.names import NONE

    assert SLIDERS["temperature"] == SamplingParams().temperature == 0.8
    assert SLIDERS["top_k"] == SamplingParams().top_k and SLIDERS["max_tokens"] == 0
    settings = Settings(home=danlu_home)
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM smollm2\nPARAMETER temperature 0.1\nPARAMETER num_predict 4\n")
    create_from_file("terse", modelfile, settings)
    used: list[SamplingParams] = []
    stream_chat = Model.stream_chat

    def spy(self, messages, **params):
        used.append(self.params(**params))  # what the model makes of what the page sent
        return stream_chat(self, messages, **params)

    monkeypatch.setattr(Model, "stream_chat", spy)
    ctx = UIContext.create(UISettings(), settings)
    try:
        act, request = ChatActions(ctx), SimpleNamespace(session_hash="s")
        history = [{"role": "user", "content": "Count to ten."}]
        untouched = [SLIDERS[k] for k in ("temperature", "top_p", "top_k", "max_tokens", "seed")]
        list(act.respond(history, "terse", NONE, "", *untouched, request))
        assert (used[-1].temperature, used[-1].max_tokens) == (0.1, 4)  # the Modelfile's
        moved = [1.3, SLIDERS["top_p"], SLIDERS["top_k"], 2, -1]
        list(act.respond(history, "terse", NONE, "", *moved, request))
        assert (used[-1].temperature, used[-1].max_tokens) == (1.3, 2)  # the sliders'
        assert used[-1].top_p == 0.95 and used[-1].seed is None
    finally:
        ctx.close()

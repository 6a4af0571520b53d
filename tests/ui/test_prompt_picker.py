"""The Chat tab's prompt picker: a library prompt's system prompt into the system box."""

from __future__ import annotations

import pytest

from danlu.config import Settings
from danlu.prompts import Prompt, PromptLibrary

TRANSLATOR = (
    "In the context of everyday writing, you are a careful translator. Translate the user's "
    "text into [target]."
)


@pytest.fixture
def actions(danlu_home):
    from danlu.ui.chat_tab import ChatActions
    from danlu.ui.context import UIContext, UISettings

    ctx = UIContext.create(UISettings(), Settings(home=danlu_home))
    yield ChatActions(ctx)
    ctx.close()


def test_a_picked_prompt_fills_the_system_box_and_its_temperature(actions, danlu_home):
    system, temperature = actions.pick_prompt("translator")
    assert system.startswith(TRANSLATOR)  # the needed variable shown, to be edited
    assert temperature == 0.2
    PromptLibrary(Settings(home=danlu_home).prompts_dir).add(
        Prompt(name="plain", system="In the context of {{ x }}, be plain.", defaults={"x": "law"})
    )
    system, temperature = actions.pick_prompt("plain")
    assert system == "In the context of law, be plain." and temperature == {"__type__": "update"}


def test_none_leaves_the_box_and_a_prompt_name_lists(actions, danlu_home):
    from danlu.ui.names import NONE, prompt_names

    assert actions.pick_prompt(NONE) == ({"__type__": "update"}, {"__type__": "update"})
    assert {"translator", "translator-zh", "sql-helper"} <= set(
        prompt_names(Settings(home=danlu_home))
    )


def test_the_picker_in_the_page(page):
    page.tab("Chat")
    page.choose("chat-prompt", "summariser")
    box = "#chat-system textarea"
    page.wait(lambda: "summarise the text" in (page.find(box).get_attribute("value") or ""))
    summary = "In the context of a busy reader's inbox, summarise the text the user gives"
    assert page.find(box).get_attribute("value").startswith(summary)
    page.choose("chat-prompt", "translator-zh")
    page.wait(lambda: "[target]" in (page.find(box).get_attribute("value") or ""))

"""The prompt library's built-ins, rendering rules and CSV names, without the CLI."""

from __future__ import annotations

import pytest

from danlu.config import Settings
from danlu.engine.sampling import SamplingParams
from danlu.errors import InvalidParameter, MissingVariable
from danlu.prompts import Prompt, PromptLibrary
from danlu.prompts.library import BUILTIN, slug
from danlu.prompts.prompt import escape

ROLES = ("translator", "summariser", "code-reviewer", "sql-helper", "interviewer")


@pytest.fixture
def library(danlu_home) -> PromptLibrary:
    return PromptLibrary(Settings(home=danlu_home).prompts_dir)


def test_builtins_cover_each_role_in_english_and_chinese(library):
    builtins = {e.prompt.name: e.prompt for e in library.entries() if e.source == BUILTIN}
    assert set(builtins) == {*ROLES, *(f"{role}-zh" for role in ROLES)}
    for role in ROLES:
        values = {name: "x" for name in builtins[role].required()}
        english = builtins[role].render(values, "text")
        chinese = builtins[f"{role}-zh"].render(values, "text")
        assert english.system.startswith("In the context of ")  # the notes' pattern
        assert chinese.system.startswith("在") and "的语境下" in chinese.system
        assert builtins[role].variables() == builtins[f"{role}-zh"].variables()
        SamplingParams.build(None, **builtins[role].sampling)


def test_defaults_fill_in_and_given_values_win():
    prompt = Prompt(
        name="p", system="In the context of {{ field }}, {{ task }}.", defaults={"field": "law"}
    )
    assert prompt.required() == ["task"]
    assert prompt.render({"task": "be exact"}).system == "In the context of law, be exact."
    assert prompt.render({"task": "t", "field": "tax"}).system == "In the context of tax, t."
    with pytest.raises(MissingVariable, match="needs the variable 'task'"):
        prompt.render({})


def test_an_unknown_sampling_setting_is_refused():
    with pytest.raises(InvalidParameter, match="top_q"):
        Prompt(name="p", sampling={"top_q": 0.5})
    assert Prompt(name="p", sampling={"top_p": "0.5"}).sampling == {"top_p": 0.5}


def test_imported_text_renders_to_itself():
    text = "Reply with {{ x }} or {% raw %} and {% endraw %} and {# not a comment #}."
    assert Prompt(name="p", system=escape(text)).render({}).system == text
    assert Prompt(name="p", system=escape(text)).variables() == []


def test_acts_become_names():
    assert slug("Linux Terminal") == "linux-terminal"
    assert slug("  JavaScript Console!") == "javascript-console"
    assert slug("充当旅行向导") == "充当旅行向导"
    assert slug("???") == ""


def test_a_user_prompt_stands_in_for_a_builtin_until_removed(library):
    library.add(Prompt(name="translator", system="Translate into {{ target }}, tersely."))
    assert library.get("translator").render({"target": "Irish"}).system.endswith("tersely.")
    library.remove("translator")
    assert library.get("translator").system.startswith("In the context of")

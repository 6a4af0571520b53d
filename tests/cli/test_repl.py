"""The interactive chat driven through a real pseudo-terminal (pexpect)."""

from __future__ import annotations

import json

import pexpect
import pytest

from tests.cli.terminal import PROMPT, answer_to, ask, spawn_run

# the session `model` fixture's context and threads, so greedy answers can be compared
SAME_LOAD = ("-c", "2048", "-t", "2")


def replay(model, conversations: list[list[dict]], **params) -> list:
    """Greedy answers to each conversation in turn, from an emptied cache, as the chat asked
    them: llama.cpp's greedy pick can change with how much of a prompt the prefix cache
    held, so a comparison must reuse the cache as the chat did."""
    model.engine.reset()
    return [model.chat(c, temperature=0, **params) for c in conversations]


def test_slash_commands_save_and_load(chat, danlu_home, model):
    child = chat("--temp", "0", "-n", "24", *SAME_LOAD)
    assert "model: smollm2" in ask(child, "/show")
    assert "set temperature = 0.5" in ask(child, "/set temperature 0.5")
    assert "error: invalid temperature='abc'" in ask(child, "/set temperature abc")
    assert "unknown command '/nope'" in ask(child, "/nope")
    assert "system prompt set" in ask(child, "/system Answer briefly.")
    assert "set temperature = 0.0" in ask(child, "/set temperature 0")
    assert "set max_tokens = 4" in ask(child, "/set num_predict 4")
    first = answer_to(child, "Say hello.")
    assert "saved 2 message(s)" in ask(child, "/save first")
    saved = json.loads((danlu_home / "sessions" / "first.json").read_text())
    assert saved["system"] == "Answer briefly."
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"]
    assert saved["messages"][1]["content"].strip() == first[0].strip()
    assert saved["params"]["temperature"] == 0 and saved["params"]["max_tokens"] == 4
    # forget all of it, then let /load bring it back
    assert "conversation cleared" in ask(child, "/clear")
    assert "system prompt cleared" in ask(child, "/system")
    assert "set max_tokens = 24" in ask(child, "/set num_predict 24")
    assert "loaded 2 message(s) from 'first'" in ask(child, "/load first")
    follow = answer_to(child, "Repeat your last answer.")
    history = [
        {"role": "system", "content": "Answer briefly."},
        *saved["messages"],
        {"role": "user", "content": "Repeat your last answer."},
    ]
    said, expected = replay(model, [history[:2], history], max_tokens=4)
    assert said.text.strip() == first[0]
    assert expected.finish_reason == "length"  # so a restored max_tokens shows
    assert "\n".join(follow) == expected.text.strip()
    alone = replay(model, [history[:2], [history[0], history[-1]]], max_tokens=4)[1]
    assert alone.text != expected.text  # the earlier turns matter: the check above can fail
    assert "no saved session named 'other'" in ask(child, "/load other")
    child.sendline("/bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_long_chat_drops_its_oldest_turns_and_still_answers(chat, model):
    """A 128-token context: by the last questions the first exchanges no longer fit."""
    child = chat("--temp", "0", "-n", "8", "-c", "128", "-t", "2")
    assert "system prompt set" in ask(child, "/system Be brief.")
    questions = [  # short enough for one terminal line
        f"Question {i}: what colour is the {thing}? One word."
        for i, thing in enumerate(("sky", "grass", "snow", "sun", "sea"), 1)
    ]
    history = [{"role": "system", "content": "Be brief."}]
    asked, printed = [], []
    for question in questions:
        printed.append(answer_to(child, question))
        history.append({"role": "user", "content": question})
        asked.append(list(history))
        history.append({"role": "assistant", "content": printed[-1][0]})
    expected = replay(model, asked, max_tokens=8, context_length=128)
    for lines, direct in zip(printed, expected, strict=True):
        assert lines[0] == direct.text.strip()  # the answer, then the notes
        assert lines[1:] == [f"note: {notice}" for notice in direct.notices]
    assert not expected[0].notices and expected[-1].notices  # turns were dropped by the end
    child.sendline("/bye")
    child.expect(pexpect.EOF)


def test_ctrl_c_stops_the_answer_but_not_the_chat(chat):
    child = chat("--temp", "0", "-n", "2000", "--ignore-eos")
    child.sendline("Tell me a long story about a dragon.")
    child.expect(r"\w+ \w+ \w+")  # the answer has started streaming
    child.sendintr()
    child.expect_exact("(answer stopped)")
    child.expect_exact(PROMPT)
    assert "model: smollm2" in ask(child, "/show")  # still alive and answering
    assert "set max_tokens = 8" in ask(child, "/set num_predict 8")
    answer = ask(child, "Say yes.")
    assert answer.strip()
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_in_raw_mode_stops_the_answer_and_hands_over_the_turn(danlu_home):
    """llama.cpp's raw mode (-i): Ctrl-C stops an answer, the turn is the user's, and the
    model then continues the text with their line; Ctrl-D leaves."""
    flags = [
        "-p",
        "Once upon a time",
        "-i",
        "--in-prefix",
        "[you] ",
        "--temp",
        "0",
        "-n",
        "2000",
        "--ignore-eos",
    ]
    child = spawn_run(danlu_home, *flags)
    said = "Once upon a time"  # the prompt is printed first
    try:
        for _ in range(2):  # the first answer, then the one to the user's line
            child.expect_exact(said)
            child.expect(r"\w+ \w+ \w+")  # the model's text is streaming
            child.sendintr()
            child.expect_exact("(stopped)")
            child.expect_exact("[you] ")
            said = "And then the dragon"
            child.sendline(said)  # the terminal echoes it
        child.expect_exact(said)
        child.expect(r"\w+ \w+ \w+")  # a third answer: the session goes on
        child.sendintr()
        child.expect_exact("[you] ")
        child.sendeof()
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        assert "interrupted" not in child.before and "Traceback" not in child.before
    finally:
        child.close(force=True)


def test_ctrl_c_at_the_prompt_explains_how_to_leave(chat):
    child = chat()
    child.sendintr()
    child.expect_exact("use /bye or Ctrl-D to leave")
    child.sendline("/bye")
    child.expect(pexpect.EOF)


def test_multiline_message_between_triple_quotes(chat, danlu_home):
    child = chat("--temp", "0", "-n", "4")
    child.sendline('"""first line')
    child.expect_exact("... ")
    child.sendline('second line"""')
    child.expect_exact(PROMPT)
    ask(child, "/save multi")
    saved = json.loads((danlu_home / "sessions" / "multi.json").read_text())
    assert saved["messages"][0]["content"] == "first line\nsecond line"
    child.sendline("/bye")
    child.expect(pexpect.EOF)


# -- slash commands in process, on the shared model ------------------------------------------


@pytest.fixture
def repl(model, danlu_home, capsys):
    """A Repl on the session model; the model's defaults are restored afterwards."""
    from danlu.cli.repl import Repl
    from danlu.config import Settings

    saved = model.defaults
    yield Repl(model, Settings(home=danlu_home))
    model.defaults = saved


def slash(repl, capsys, line: str) -> str:
    from danlu.cli.slash import run_slash

    capsys.readouterr()
    run_slash(repl, line)
    return capsys.readouterr().out


def test_set_verbose_off_turns_it_off(repl, capsys):
    assert slash(repl, capsys, "/set verbose on") == "verbose is on\n"
    assert repl.verbose
    assert slash(repl, capsys, "/set verbose off") == "verbose is off\n"
    assert not repl.verbose
    assert slash(repl, capsys, "/set verbose") == "verbose is on\n"
    assert slash(repl, capsys, "/set quiet") == "verbose is off\n"


def test_set_verbose_with_a_bad_value_is_an_error(repl, capsys):
    from danlu.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="on or off, not 'maybe'"):
        slash(repl, capsys, "/set verbose maybe")


def test_set_an_unknown_name_lists_the_valid_ones(repl, capsys):
    from danlu.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="unknown parameter 'bogus'") as info:
        slash(repl, capsys, "/set bogus 3")
    for name in ("temperature", "top_k", "max_tokens", "stop", "temp", "verbose"):
        assert name in info.value.hint
    assert "grammar" not in info.value.hint


def test_show_lists_chat_parameters_and_the_effective_system_prompt(repl, capsys):
    shown = slash(repl, capsys, "/show")
    assert "temperature = " in shown and "max_tokens = " in shown
    for internal in ("grammar", "grammar_trigger", "logit_bias", "logprobs"):
        assert f"  {internal} = " not in shown
    # SmolLM2's template puts its own system prompt in when the chat has none
    default = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    rendered = repl.model.render([{"role": "user", "content": "hi"}])
    assert default in rendered
    assert f"system: {default} (the template's default)" in shown
    slash(repl, capsys, "/system Answer briefly.")
    assert "system: Answer briefly.\n" in slash(repl, capsys, "/show")


def test_a_template_without_a_default_system_prompt_shows_none():
    from danlu.chat.template import named_template
    from danlu.cli.slash import template_system_prompt

    for name in ("chatml", "llama2", "llama3", "mistral", "alpaca"):
        assert template_system_prompt(named_template(name)) is None, name


def test_save_under_a_bad_name_speaks_of_a_chat_name(repl, capsys, danlu_home):
    from danlu.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as info:
        slash(repl, capsys, "/save ../evil")
    assert info.value.message == "'../evil' is not a valid chat name"
    assert not (danlu_home / "evil.json").exists()

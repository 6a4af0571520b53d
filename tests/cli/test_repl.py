"""The interactive chat driven through a real pseudo-terminal (pexpect)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

DANLU = str(Path(sys.executable).parent / "danlu")
PROMPT = ">>> "


@pytest.fixture
def chat(danlu_home: Path):
    """Start `danlu run smollm2` in a pty; yields the pexpect child."""

    def start(*flags: str) -> pexpect.spawn:
        env = {**os.environ, "DANLU_HOME": str(danlu_home), "NO_COLOR": "1", "TERM": "dumb"}
        child = pexpect.spawn(
            DANLU, ["run", "smollm2", *flags], env=env, encoding="utf-8", timeout=60
        )
        child.expect_exact(PROMPT)
        children.append(child)
        return child

    children: list[pexpect.spawn] = []
    yield start
    for child in children:
        child.close(force=True)


def ask(child: pexpect.spawn, line: str) -> str:
    """Send a line and return everything printed before the next prompt."""
    child.sendline(line)
    child.expect_exact(PROMPT)
    return child.before


def test_slash_commands_save_and_load(chat, danlu_home):
    child = chat("--temp", "0", "-n", "24")
    assert "model: smollm2" in ask(child, "/show")
    assert "set temperature = 0.5" in ask(child, "/set temperature 0.5")
    assert "error: invalid temperature='abc'" in ask(child, "/set temperature abc")
    assert "unknown command '/nope'" in ask(child, "/nope")
    assert "system prompt set" in ask(child, "/system Answer briefly.")
    answer = ask(child, "Say hello.")
    assert len(answer.strip()) > len("Say hello.")
    assert "saved 2 message(s)" in ask(child, "/save first")
    saved = json.loads((danlu_home / "sessions" / "first.json").read_text())
    assert saved["system"] == "Answer briefly."
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"]
    assert saved["params"]["temperature"] == 0.5
    assert "conversation cleared" in ask(child, "/clear")
    assert "loaded 2 message(s) from 'first'" in ask(child, "/load first")
    assert "no saved session named 'other'" in ask(child, "/load other")
    child.sendline("/bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


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

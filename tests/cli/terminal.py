"""The interactive chat in a real pseudo-terminal (pexpect): `danlu run` started, lines
sent, what it printed before the next prompt read back."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pexpect
import pytest

DANLU = str(Path(sys.executable).parent / "danlu")
PROMPT = ">>> "


def default_sigint() -> None:
    """Ctrl-C as a terminal delivers it, however pytest was started: a shell starting a job
    in the background (`make test &`) ignores SIGINT, the child would inherit that, and
    Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn_run(danlu_home: Path, *flags: str) -> pexpect.spawn:
    """`danlu run smollm2 FLAGS` in a pty, plain text (no colours), over `danlu_home`."""
    env = {**os.environ, "DANLU_HOME": str(danlu_home), "NO_COLOR": "1", "TERM": "dumb"}
    return pexpect.spawn(
        DANLU,
        ["run", "smollm2", *flags],
        env=env,
        encoding="utf-8",
        timeout=60,
        preexec_fn=default_sigint,
    )


@pytest.fixture
def chat(danlu_home: Path):
    """Start the chat (`spawn_run`) and wait for its prompt; yields the pexpect child."""

    def start(*flags: str) -> pexpect.spawn:
        child = spawn_run(danlu_home, *flags)
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


def answer_to(child: pexpect.spawn, line: str) -> list[str]:
    """The lines printed after the echoed `line`: the answer, then any notes."""
    printed = ask(child, line).replace("\r\n", "\n").split("\n")
    assert printed[0].endswith(line)  # the terminal's echo of what was typed
    return [text for text in printed[1:] if text]

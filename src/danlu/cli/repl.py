"""The interactive chat of `danlu run`: streamed answers, history, slash commands.

Ctrl-C stops the answer being written and keeps the session; Ctrl-D or /bye leaves.
A message that starts with \"\"\" runs until a line that ends with \"\"\".
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from danlu.chat.messages import Message
from danlu.cli.edge import report
from danlu.cli.probs import ProbsPrinter
from danlu.cli.slash import run_slash
from danlu.cli.style import Style
from danlu.config import Settings
from danlu.engine.base import Chunk, Completion
from danlu.engine.promptcache import PromptCacheRun
from danlu.errors import DanluError
from danlu.model import Model
from danlu.prompts import Filled

PROMPT = ">>> "
CONTINUATION = "... "
FENCE = '"""'


class Repl:
    """One interactive chat with a loaded model."""

    def __init__(
        self,
        model: Model,
        settings: Settings,
        *,
        system: str | None = None,
        keep: int = 0,
        verbose: bool = False,
        style: Style | None = None,
        cache: PromptCacheRun | None = None,
    ) -> None:
        self.model = model
        self.settings = settings
        self.system = system
        self.flag_system = system  # --system, kept under a /prompt's system prompt
        self.prompt: Filled | None = None  # --use-prompt or /prompt: wraps each message
        self.messages: list[Message] = []
        self.keep = keep
        self.verbose = verbose
        self.style = style or Style()
        self.cache = cache  # --prompt-cache: restored before the first answer, then saved
        self.running = True

    # -- the loop -----------------------------------------------------------------------

    def loop(self) -> int:
        history = _History(self.settings.home / "history")
        self.say(f"Chatting with {self.model.name}. /? for help, /bye or Ctrl-D to leave.")
        while self.running:
            try:
                text = self._read()
            except EOFError:
                print()
                break
            except KeyboardInterrupt:
                print("\n(use /bye or Ctrl-D to leave)")
                continue
            if not text.strip():
                continue
            try:
                if text.startswith("/"):
                    run_slash(self, text)
                else:
                    self.answer(text)
            except DanluError as exc:
                report(exc)
        history.save()
        return 0

    def _read(self) -> str:
        try:
            return self._read_lines()
        finally:
            sys.stdout.write(self.style.reset)

    def _read_lines(self) -> str:
        line = input(PROMPT + self.style.user)
        if line.startswith(FENCE):
            lines = [line[len(FENCE) :]]
            while not lines[-1].endswith(FENCE) or (len(lines) == 1 and lines[0] == ""):
                lines.append(input(CONTINUATION))
            lines[-1] = lines[-1][: -len(FENCE)]
            return "\n".join(lines).strip("\n")
        while line.endswith("\\"):
            line = line[:-1] + "\n" + input(CONTINUATION)
        return line

    # -- answering -----------------------------------------------------------------------

    def conversation(self) -> list[Message]:
        head = [Message(role="system", content=self.system)] if self.system else []
        return head + self.messages

    def answer(self, text: str) -> None:
        """Stream the model's reply to `text`; Ctrl-C cuts it short and keeps what came."""
        if self.prompt is not None:
            text = self.prompt.message(text)
        self.messages.append(Message(role="user", content=text))
        chunks, parts = [], []
        stream = None
        probs = self._inspector()
        sys.stdout.write(self.style.answer)
        try:
            stream = self._start(self.conversation())
            for chunk in stream:
                if probs is not None:
                    probs.feed(chunk)
                else:
                    sys.stdout.write(chunk.text)
                sys.stdout.flush()
                parts.append(chunk.text)
                chunks.append(chunk)
            if probs is not None:  # the candidates came token by token; now the answer whole
                sys.stdout.write("\n" + "".join(parts))
        except KeyboardInterrupt:
            if stream is not None:
                stream.close()
            sys.stdout.write(f"{self.style.reset}\n")
            self.say("(answer stopped)")
        except DanluError:
            self.messages.pop()
            sys.stdout.write(f"{self.style.reset}\n")
            raise
        else:
            sys.stdout.write(f"{self.style.reset}\n")
            self._after_answer(Completion.collect(chunks))
            if self.cache is not None:
                self.cache.after()
        self.messages.append(Message(role="assistant", content="".join(parts)))

    def _inspector(self) -> ProbsPrinter | None:
        """The sampling inspector's printer while /probs (or --show-probs) is on."""
        if not self.model.defaults.post_sampling_probs:
            return None
        return ProbsPrinter(self.model.engine.piece, sys.stdout.write)

    def _start(self, conversation: list[Message]) -> Iterator[Chunk]:
        """The answer's chunk stream; the prompt cache is restored before the first one."""
        prompt = self.model.prepare_chat(conversation, keep=self.keep)
        if self.cache is not None and self.cache.pending:
            self.say(self.cache.before(prompt.tokens))
        return self.model.stream(prompt)

    def _after_answer(self, result: Completion) -> None:
        for notice in result.notices:
            self.say(f"note: {notice}")
        if self.verbose:
            self.say(result.timing.speed_line())

    def say(self, text: str) -> None:
        print(f"{self.style.dim}{text}{self.style.reset}")


class _History:
    """Line history across sessions through readline, when the platform has it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            import readline
        except ImportError:
            self.readline = None
            return
        self.readline = readline
        with contextlib.suppress(OSError):
            readline.read_history_file(path)

    def save(self) -> None:
        if self.readline is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.readline.set_history_length(1000)
            self.readline.write_history_file(self.path)
        except OSError:
            pass

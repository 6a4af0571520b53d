"""The raw interactive mode of `danlu run`, as llama.cpp's classic chat scripts use it.

One running text and no chat template: the model continues the prompt until it writes
a reverse prompt (-r), an end-of-text token or -n tokens, and then the turn is the
user's. Their line is added as --in-prefix + line + newline + --in-suffix, and the
model continues. --interactive-first hands the first turn to the user.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from danlu.cli.style import Style
from danlu.engine.base import Completion

if TYPE_CHECKING:
    from danlu.engine.promptcache import PromptCacheRun
    from danlu.model import Model


@dataclass(frozen=True)
class RawMode:
    """The flags of the raw mode; `selected` is whether any of them was given."""

    reverse_prompts: tuple[str, ...] = ()
    in_prefix: str = ""
    in_suffix: str = ""
    interactive: bool = False
    interactive_first: bool = False

    @property
    def selected(self) -> bool:
        return bool(
            self.interactive
            or self.interactive_first
            or self.reverse_prompts
            or self.in_prefix
            or self.in_suffix
        )


class RawChat:
    """One raw session: `text` is everything the model has seen and written so far."""

    def __init__(
        self,
        model: Model,
        mode: RawMode,
        prompt: str,
        *,
        style: Style,
        cache: PromptCacheRun | None = None,
        verbose: bool = False,
    ) -> None:
        self.model = model
        self.mode = mode
        self.text = prompt
        self.style = style
        self.cache = cache
        self.verbose = verbose

    def loop(self) -> int:
        self._write(self.style.prompt + self.text + self.style.reset)
        if not self.mode.interactive_first and self.text:
            self.turn()
        while True:
            self._write(self.mode.in_prefix + self.style.user)
            try:
                line = input()
            except EOFError:
                self._write(self.style.reset + "\n")
                return 0
            finally:
                self._write(self.style.reset)
            self._write(self.mode.in_suffix)
            self.text += f"{self.mode.in_prefix}{line}\n{self.mode.in_suffix}"
            self.turn()

    def turn(self) -> None:
        """Let the model write until a reverse prompt, end of text or -n; print as it goes."""
        prompt = self.model.prepare_text(self.text)
        if self.cache is not None and self.cache.pending:
            self._note(self.cache.before(prompt.tokens))
        stream = self.model.stream(prompt)
        written, chunks = "", []
        try:
            for chunk in stream:
                chunks.append(chunk)
                written += chunk.text
                self._write(chunk.text)
                cut = self._reverse_prompt_end(written, len(chunk.text))
                if cut is not None:
                    written = written[:cut]
                    break
        except KeyboardInterrupt:
            self._note("(stopped)")
        finally:
            stream.close()  # a reverse prompt stops the job: its slot is freed
        self.text += written
        if self.cache is not None:
            self.cache.after()
        if chunks and chunks[-1].finish_reason and self.verbose:
            self._note(Completion.collect(chunks).timing.speed_line())

    def _reverse_prompt_end(self, written: str, new: int) -> int | None:
        """Where the first reverse prompt in the newest text ends, if one is there."""
        for reverse in self.mode.reverse_prompts:
            start = max(0, len(written) - new - len(reverse) + 1)
            found = written.find(reverse, start)
            if found >= 0:
                return found + len(reverse)
        return None

    def _write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def _note(self, text: str) -> None:
        print(f"\n{self.style.dim}{text}{self.style.reset}", file=sys.stderr)

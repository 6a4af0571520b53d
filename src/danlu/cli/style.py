"""Terminal colours of the chats: prompt text, the user's input and the model's answer."""

from __future__ import annotations

import os
import sys
from typing import TextIO


class Style:
    """ANSI colours, or nothing when the output is not a terminal or NO_COLOR is set.

    `force` (--color) turns them on even then, as llama.cpp's --color does.
    """

    def __init__(self, stream: TextIO | None = None, *, force: bool = False) -> None:
        stream = stream or sys.stdout  # looked up now: sys.stdout may have been replaced
        on = force or (stream.isatty() and "NO_COLOR" not in os.environ)
        self.answer = "\033[36m" if on else ""  # cyan: what the model writes in a chat
        self.prompt = "\033[33m" if on else ""  # yellow: the raw mode's initial prompt
        self.user = "\033[1;32m" if on else ""  # bold green: what the user types
        self.dim = "\033[2m" if on else ""
        self.reset = "\033[0m" if on else ""

"""In-process CLI runs: `danlu(...)` calls the real entry point with captured output."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from danlu.cli.main import main
from tests.cli.terminal import chat  # noqa: F401 -- the pty chat fixture, for every CLI test


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def danlu(capsys, monkeypatch) -> Callable[..., Result]:
    """Run `danlu ARGS...`; `stdin=` feeds piped input (default: an empty pipe)."""

    def invoke(*args: str, stdin: str = "") -> Result:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke

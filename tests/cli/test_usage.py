"""Usage errors (unknown option, extra or missing argument, bad value) are one line, exit 2."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "--bogus"], "No such option: --bogus"),
        (["import", "model.gguf", "extra"], "unexpected extra argument(s) (extra)"),
        (["rm"], "Missing argument 'names'"),
        (["serve", "--port", "abc"], "Invalid value for '--port'"),
    ],
)
def test_usage_errors_are_one_line_with_a_pointer_to_help(danlu, args, says):
    result = danlu(*args)
    assert result.code == 2
    assert result.err.startswith("error: ")
    assert says in result.err
    assert result.err.rstrip().endswith(f"(see 'danlu {args[0]} --help')")
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err + result.out


def test_no_arguments_prints_the_command_list(danlu):
    result = danlu()
    assert "Usage: danlu" in result.out
    for command in ("run", "serve", "pull", "list"):
        assert command in result.out
    assert "Traceback" not in result.err


def test_no_arguments_prints_the_help_once(danlu):
    result = danlu()
    assert result.out.count("Usage: danlu") == 1
    assert result.out.count("run, serve and manage local LLMs") == 1


def test_version(danlu):
    import danlu as package

    result = danlu("--version")
    assert (result.code, result.out, result.err) == (0, f"danlu {package.__version__}\n", "")
    assert result.out == "danlu 0.1.0\n"

"""Where library errors become one-line messages and exit codes."""

from __future__ import annotations

import sys

import typer

from danlu.errors import DanluError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def report(exc: DanluError) -> int:
    """Print `error: message (hint)` on stderr; return the exit code."""
    print(f"error: {exc.one_line()}", file=sys.stderr)
    return EXIT_ERROR


def usage_error(exc: typer.TyperException) -> int:
    """`error: what was wrong (see 'danlu CMD --help')`, or the help text itself when the
    command was given no arguments at all."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":
        # The error carries the help as its message; typer's rich help is printed while
        # the error is made and leaves the message empty, so print only what is left.
        text = exc.format_message()
        if text.strip():
            print(text)
        return EXIT_USAGE
    where = ctx.command_path if ctx is not None else "danlu"
    message = exc.format_message().rstrip(".")
    print(f"error: {message} (see '{where} --help')", file=sys.stderr)
    return EXIT_USAGE


def run_guarded(app: typer.Typer, args: list[str] | None) -> int:
    """Run a typer app in-process, turning every expected failure into an exit code."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="danlu", standalone_mode=False)
    except DanluError as exc:
        return report(exc)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # a usage error: unknown option, missing argument
        return usage_error(exc)
    except (typer.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    return result if isinstance(result, int) else 0

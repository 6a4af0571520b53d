"""Where library errors become one-line messages and exit codes."""

from __future__ import annotations

import sys

import click

from danlu.errors import DanluError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def report(exc: DanluError) -> int:
    """Print `error: message (hint)` on stderr; return the exit code."""
    print(f"error: {exc.one_line()}", file=sys.stderr)
    return EXIT_ERROR


def run_guarded(command: click.Command, args: list[str] | None) -> int:
    """Run a click/typer command in-process, turning every expected failure into an exit code."""
    try:
        result = command.main(args=args, prog_name="danlu", standalone_mode=False)
    except DanluError as exc:
        return report(exc)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    return result if isinstance(result, int) else 0

"""Errors become a readable line in the page, never a stack trace.

`friendly` wraps an event handler: a library error (with its hint) or any other failure
is raised again as `gradio.Error`, which the page shows as a message box.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from danlu.errors import DanluError

log = logging.getLogger("danlu.ui")


def message(exc: BaseException) -> str:
    """One line: the error and its hint, as the CLI edge prints them."""
    if isinstance(exc, DanluError):
        hint = getattr(exc, "hint", None)
        return f"{exc}" + (f" ({hint})" if hint else "")
    return f"{type(exc).__name__}: {exc}"


def _as_gradio(exc: Exception) -> Exception:
    import gradio as gr

    if isinstance(exc, gr.Error):
        return exc
    if not isinstance(exc, DanluError):
        log.exception("unexpected error in the page")
    return gr.Error(message(exc), print_exception=False)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The handler, with its errors shown as one line in the page."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                raise _as_gradio(exc) from None

        return stream

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise _as_gradio(exc) from None

    return call

"""Third-party output off the terminal while danlu loads, saves or trains a model.

transformers draws "Loading weights" and "Writing model shards" bars, datasets draws its
own, and peft calls APIs that transformers has deprecated (a FutureWarning on every load).
danlu shows its own progress and errors, so these stay quiet unless the user asks for
them (`-v`). The switches are the libraries' own, process-wide; the previous state is put
back on exit.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

LIBRARIES = "(torch|transformers|trl|peft|accelerate|datasets|huggingface_hub)"
"""Modules whose warnings are silenced (a regular expression on the warning's module)."""


@contextmanager
def quiet_libraries(verbose: bool = False) -> Iterator[None]:
    """Inside: no bars, notices or warnings from the model libraries, unless `verbose`."""
    if verbose:
        yield
        return
    with ExitStack() as stack:
        stack.enter_context(_transformers_quiet())
        if "datasets" in sys.modules:  # imported for training; not worth 2 s to import here
            stack.enter_context(_datasets_quiet())
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", module=LIBRARIES)
        yield


@contextmanager
def _transformers_quiet() -> Iterator[None]:
    from transformers.utils import logging

    bars, level = logging.is_progress_bar_enabled(), logging.get_verbosity()
    logging.disable_progress_bar()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


@contextmanager
def _datasets_quiet() -> Iterator[None]:
    from datasets.utils import logging

    bars = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            logging.enable_progress_bar()

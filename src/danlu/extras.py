"""Optional dependency groups ("extras"): import a heavy module only when a feature needs it.

`pip install danlu` stays light; knowledge bases, training and the like import their
stacks inside the functions that use them, through `require`, so that a missing extra
is one clear error naming the extra to install instead of an ImportError deep inside.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from danlu.errors import MissingExtra


def require(module: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import `module`, or raise MissingExtra naming the `extra` that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = feature or f"danlu {extra}"
        raise MissingExtra(
            f"{what} needs the '{extra}' extra ({module} is not installed)",
            hint=f"pip install 'danlu[{extra}]'",
        ) from exc

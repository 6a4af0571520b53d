"""Agents: a model that calls tools, the tools it may call, the sandbox its code runs in
(docs/agent.md).

`danlu.agent(...)` is this package, called: the name is both the package and the Python
API's entry (`api.agent`), so the module's class gains a `__call__` that imports the loop
only when called. Importing the package loads nothing.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from danlu.agent.api import agent

        return agent(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

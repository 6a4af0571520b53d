"""danlu (丹炉): run, serve, ground, tune, evaluate and benchmark open models locally.

>>> import danlu
>>> with danlu.load("smollm2") as model:
...     print(model.chat([{"role": "user", "content": "Hi"}], max_tokens=8).text)
>>> danlu.agent("smollm2", "What is 2 + 2?", code=True).answer  # a model with tools
"""

from danlu.chat.messages import Message
from danlu.engine.base import Chunk, Completion, LogLikelihood, Timing, Usage
from danlu.engine.sampling import SamplingParams
from danlu.errors import (
    ContextOverflow,
    CorruptModel,
    DanluError,
    InvalidParameter,
    InvalidRequest,
    ModelExists,
    ModelNotFound,
    OfflineError,
    StoreError,
)
from danlu.model import Model, load

__version__ = "0.1.0"

__all__ = [
    "Chunk",
    "Completion",
    "ContextOverflow",
    "CorruptModel",
    "DanluError",
    "InvalidParameter",
    "InvalidRequest",
    "LogLikelihood",
    "Message",
    "Model",
    "ModelExists",
    "ModelNotFound",
    "OfflineError",
    "SamplingParams",
    "StoreError",
    "Timing",
    "Usage",
    "agent",
    "load",
]


def __getattr__(name: str):
    # `danlu.agent(model, task, tools=[...])`: the agent package, imported on first use
    # (it is callable; see danlu/agent/__init__.py)
    if name == "agent":
        import importlib

        return importlib.import_module("danlu.agent")
    raise AttributeError(f"module 'danlu' has no attribute {name!r}")

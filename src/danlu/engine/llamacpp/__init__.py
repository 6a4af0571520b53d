"""The llama.cpp backend (GGUF files), registered as `llama.cpp`."""

from danlu.engine.llamacpp.engine import LlamaCppEngine

__all__ = ["LlamaCppEngine"]

"""`danlu serve`: OpenAI- and Ollama-compatible HTTP API over the engine (FastAPI app factory)."""

from danlu.server.app import create_app
from danlu.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]

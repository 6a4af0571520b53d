"""The Ollama API under /api, as the official `ollama` client sends and reads it.

Errors are `{"error": "..."}` with the status of the DanluError behind them (see
server/errors.py); unknown models are 404 `model 'x' not found`.
"""

from __future__ import annotations

from fastapi import APIRouter

from danlu.server.ollama import embed, models
from danlu.server.ollama.chat import chat
from danlu.server.ollama.generate import generate
from danlu.server.ollama.pull import pull

router = APIRouter(prefix="/api", tags=["ollama"])
router.post("/chat")(chat)
router.post("/generate")(generate)
router.post("/embed")(embed.embed)
router.post("/embeddings")(embed.embeddings)
router.get("/tags")(models.tags)
router.post("/show")(models.show)
router.get("/ps")(models.ps)
router.get("/version")(models.version)
router.post("/pull")(pull)
router.delete("/delete")(models.delete)
router.post("/copy")(models.copy)

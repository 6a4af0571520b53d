"""The Ollama API under /api, as the official `ollama` client sends and reads it.

Errors are `{"error": "..."}` with the status of the DanluError behind them (see
server/errors.py); unknown models are 404 `model 'x' not found`.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from danlu.errors import NotSupported
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

IMPORT_HINT = "import a GGUF with `danlu import FILE --name NAME`, or pull one from Hugging Face"
UNSUPPORTED = {  # Ollama routes danlu knows and refuses with 501, not a bare 404
    ("POST", "/create"): ("creating a model from a Modelfile is not supported", IMPORT_HINT),
    ("POST", "/push"): ("pushing a model is not supported: danlu has no registry", None),
    ("POST", "/blobs/{digest}"): ("blob uploads (for /api/create) are not supported", IMPORT_HINT),
    ("HEAD", "/blobs/{digest}"): ("blob uploads (for /api/create) are not supported", IMPORT_HINT),
}


def _refuse(message: str, hint: str | None):
    async def refuse() -> None:
        raise NotSupported(message, hint=hint)

    return refuse


for (method, path), (message, hint) in UNSUPPORTED.items():
    router.add_api_route(path, _refuse(message, hint), methods=[method], include_in_schema=False)

# What Ollama answers at its root; front ends probe it to find a server.
root = APIRouter(tags=["ollama"])


@root.api_route(
    "/", methods=["GET", "HEAD"], response_class=PlainTextResponse, include_in_schema=False
)
async def running() -> str:
    return "Ollama is running"

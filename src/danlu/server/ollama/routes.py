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
from danlu.server.ollama.create import create
from danlu.server.ollama.generate import generate
from danlu.server.ollama.pull import pull
from danlu.server.openapi import AUTH, BODY, GENERATE, MODEL, ollama_errors

router = APIRouter(prefix="/api", tags=["ollama"], responses=ollama_errors(AUTH))
router.post("/chat", responses=ollama_errors(BODY, GENERATE))(chat)
router.post("/generate", responses=ollama_errors(BODY, GENERATE))(generate)
router.post("/embed", responses=ollama_errors(BODY, MODEL))(embed.embed)
router.post("/embeddings", responses=ollama_errors(BODY, MODEL))(embed.embeddings)
router.get("/tags")(models.tags)
router.post("/show", responses=ollama_errors(BODY, (404, 422)))(models.show)
router.get("/ps")(models.ps)
router.get("/version")(models.version)
router.post("/pull", responses=ollama_errors(BODY, (404, 409, 503)))(pull)
router.delete("/delete", responses=ollama_errors(BODY, (404,)))(models.delete)
router.post("/copy", responses=ollama_errors(BODY, (404, 409)))(models.copy)
router.post("/create", responses=ollama_errors(BODY, (409,)))(create)

IMPORT_HINT = "import a GGUF with `danlu import FILE --name NAME`, or pull one from Hugging Face"
UNSUPPORTED = {  # Ollama routes danlu knows and refuses with 501, not a bare 404
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

"""What the OpenAPI schema says each route can answer: its error statuses and their bodies.

Routes declare their failures from a few groups (`AUTH`, `BODY`, `MODEL`, `GENERATE`) so
that a client generator, a fuzzer or a reader sees every status a route really returns.
Request validation answers 400 here, not FastAPI's 422, so the schema drops FastAPI's
automatic 422 `HTTPValidationError` entries; 422 means a damaged model file.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    """The error body on /v1 and the operations routes, as OpenAI shapes it."""

    error: OpenAIErrorDetail


class OllamaError(BaseModel):
    """The error body on /api, as Ollama shapes it."""

    error: str


WHY = {
    400: "Invalid request: a malformed body, a bad parameter or token id, a prompt too long",
    401: "Missing or wrong API key (only when the server has keys)",
    403: "A browser page from a site not allowed, or a Host name the server does not answer to",
    404: "No model of that name in the store",
    409: "A model of that name already exists",
    413: "Request body over the server's limit",
    415: "A body that is not JSON",
    422: "The model file is damaged and cannot be loaded",
    501: "An Ollama feature danlu does not offer",
    503: "Busy (queue full, with Retry-After), loading, offline, or shutting down",
    504: "The request ran past the server's per-request timeout",
    507: "The disk under DANLU_HOME is full (what was stored before is intact)",
}

AUTH = (401,)
BODY = (400, 413)
MODEL = (404, 422, 503)  # the route loads a model: unknown, damaged, or no room / stopping
GENERATE = (*MODEL, 504)


def errors(body: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with its meaning and the error body's model."""
    return {status: {"model": body, "description": WHY[status]} for status in statuses}


def openai_errors(*groups: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    return errors(OpenAIError, *sorted({s for group in groups for s in group}))


def ollama_errors(*groups: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    return errors(OllamaError, *sorted({s for group in groups for s in group}))


def install_schema(app: FastAPI) -> None:
    """Serve a schema without FastAPI's automatic 422 validation responses."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _drop_validation_422(spec)
            _add_guard_refusals(spec)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


def _drop_validation_422(spec: dict[str, Any]) -> None:
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            response = operation.get("responses", {}).get("422", {})
            body = response.get("content", {}).get("application/json", {}).get("schema", {})
            if body.get("$ref", "").endswith("/HTTPValidationError"):
                del operation["responses"]["422"]
    schemas = spec.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _add_guard_refusals(spec: dict[str, Any]) -> None:
    """The request guard answers before any route (guard.py): 403 on each, 415 on a body."""
    for path, operations in spec.get("paths", {}).items():
        body = OllamaError if path.startswith("/api/") else OpenAIError
        for operation in operations.values():
            statuses = (403, 415) if "requestBody" in operation else (403,)
            for status in statuses:
                operation["responses"].setdefault(str(status), _refusal(body, status))


def _refusal(body: type[BaseModel], status: int) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{body.__name__}"}
    return {"description": WHY[status], "content": {"application/json": {"schema": schema}}}

"""Errors as HTTP answers: OpenAI's JSON error shape on /v1, Ollama's `{"error": ...}` on /api."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from danlu.errors import DanluError, Overloaded, Unauthorized

log = logging.getLogger("danlu.server")


def error_response(
    path: str,
    status: int,
    message: str,
    code: str,
    param: str | None = None,
    headers: dict | None = None,
) -> JSONResponse:
    """The error body in the dialect of the route that failed."""
    if path.startswith("/api/"):
        body: dict = {"error": message}
    else:
        kind = "invalid_request_error" if status < 500 else "server_error"
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def refusal_response(path: str, exc: DanluError) -> JSONResponse:
    """A typed error as the answer on `path`, with the headers its status calls for."""
    headers = None
    if isinstance(exc, Overloaded):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(path, exc.status, exc.one_line(), exc.code, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc) or None
    if first.get("type") == "extra_forbidden":
        return f"unsupported parameter '{field}'", field
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    where = f" at '{field}'" if field else ""
    msg = str(first.get("msg", "bad value")).removeprefix("Value error, ")  # our validators
    return f"invalid request{where}: {msg[:1].lower()}{msg[1:]}", field


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DanluError)
    async def _danlu(request: Request, exc: DanluError) -> JSONResponse:
        return refusal_response(request.url.path, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = _validation_message(exc)
        return error_response(request.url.path, 400, message, "invalid_request_error", param=field)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)  # a 405's Allow, for one
        return error_response(
            request.url.path, exc.status_code, str(exc.detail), "http_error", headers=headers
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request.url.path, 500, "internal server error", "internal_error")

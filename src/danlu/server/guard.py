"""ASGI middleware in front of every route: API keys, body size limit, request metrics.

Pure ASGI rather than BaseHTTPMiddleware, so streaming and disconnect detection pass
through untouched.
"""

from __future__ import annotations

import hmac
import json
from collections import deque

from danlu.server.metrics import Metrics

OPEN_PATHS = {"/health"}
# the web page (`danlu serve --ui`) has its own login, which takes an API key as password
PAGE_PREFIX = "/ui"
KNOWN_PREFIXES = ("/v1/", "/api/")


def _route_label(path: str) -> str:
    return path if path.startswith(KNOWN_PREFIXES) or path.count("/") == 1 else "other"


class Guard:
    def __init__(self, app, *, keys: set[str], max_body: int, metrics: Metrics) -> None:
        self.app = app
        self.keys = keys
        self.max_body = max_body
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        status = {"code": 500}

        async def counting_send(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is None and _chunked(scope):
                receive, refusal = await self._buffered(receive)
            if refusal:
                await _reply(counting_send, path, *refusal)
                return
            # the page posts forms and file uploads: its content types stay as sent
            await self.app(scope if _page(path) else _as_json(scope), receive, counting_send)
        finally:
            self.metrics.requests.labels(_route_label(path), str(status["code"])).inc()

    def _refusal(self, scope) -> tuple[int, str, str] | None:
        if scope["method"] == "OPTIONS" or scope["path"] in OPEN_PATHS:
            return None
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if self.keys and not _page(scope["path"]) and not self._authorised(headers):
            return 401, "missing or wrong API key", "invalid_api_key"
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            return self._too_large()
        return None

    def _too_large(self) -> tuple[int, str, str]:
        return 413, f"request body over {self.max_body} bytes", "request_too_large"

    def _authorised(self, headers: dict[str, str]) -> bool:
        given = headers.get("authorization", "")
        token = given[7:].strip() if given.lower().startswith("bearer ") else ""
        token = token or headers.get("x-api-key", "")
        return any(hmac.compare_digest(token, key) for key in self.keys)

    async def _buffered(self, receive):
        """Read a body sent without Content-Length up to the limit, then replay it.

        Returns (receive for the app, None), or (receive, a 413 refusal) once the body
        outgrows the limit; JSON bodies are small, so holding one is cheap.
        """
        messages, size = deque(), 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client went away; the app will see it
            size += len(message.get("body", b""))
            if size > self.max_body:
                return receive, self._too_large()
            if not message.get("more_body"):
                break

        async def replay():
            return messages.popleft() if messages else await receive()

        return replay, None


def _page(path: str) -> bool:
    return path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/")


def _chunked(scope) -> bool:
    """A body whose size is only known once read (Transfer-Encoding: chunked)."""
    names = {k.lower() for k, _ in scope["headers"]}
    return b"transfer-encoding" in names and b"content-length" not in names


def _as_json(scope):
    """Read POST bodies as JSON whatever the client declared: `curl -d` sends a form
    content type, and Ollama's own examples rely on the server not minding."""
    given = [v for k, v in scope["headers"] if k.lower() == b"content-type"]
    if scope["method"] != "POST" or (given and b"json" in given[0].lower()):
        return scope
    kept = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
    return {**scope, "headers": [*kept, (b"content-type", b"application/json")]}


async def _reply(send, path: str, status: int, message: str, code: str) -> None:
    if path.startswith("/api/"):
        body = {"error": message}
    else:
        body = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        }
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})

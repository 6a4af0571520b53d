"""ASGI middleware in front of every route: the site policy (Host, Origin), API keys, the
body's size and type, request metrics. `danlu ui` puts it in front of its page alone, where
the site policy and the body limit are what apply.

Pure ASGI rather than BaseHTTPMiddleware, so streaming and disconnect detection pass
through untouched. A refusal is a typed error, answered by server/errors.py. Headers are
read as bytes (latin-1), as HTTP carries them: a byte that is not UTF-8 is no crash.
"""

from __future__ import annotations

import hmac
from collections import deque

from starlette.datastructures import Headers

from danlu.errors import DanluError, Forbidden, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from danlu.server.errors import refusal_response
from danlu.server.metrics import Metrics
from danlu.server.sites import SitePolicy

OPEN_PATHS = {"/health"}
# the web page (`danlu serve --ui`) has its own login, which takes an API key as password
PAGE_PREFIX = "/ui"
# the page's file uploads, under where it is mounted: gradio streams each file to disk and
# refuses one over the page's own limit (UISettings.max_upload_mb) with a 413, so the body
# limit is not theirs
PAGE_UPLOADS = "/gradio_api/upload"
KNOWN_PREFIXES = ("/v1/", "/api/")
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# read as JSON whatever they say: no type, or curl -d's form type (Ollama's documented
# examples post JSON with curl -d); a form from another site's page never gets this far
READ_AS_JSON = {"", "application/x-www-form-urlencoded"}
SHOWN = 100  # characters of a refused Host or Origin repeated in the error


def _route_label(path: str) -> str:
    return path if path.startswith(KNOWN_PREFIXES) or path.count("/") == 1 else "other"


class Guard:
    """`page` is where the web page is mounted: /ui beside the APIs, or "" when the page is
    the whole app (`danlu ui`, which has no API keys and no metrics)."""

    def __init__(
        self,
        app,
        *,
        keys: set[str],
        max_body: int,
        sites: SitePolicy,
        metrics: Metrics | None = None,
        page: str = PAGE_PREFIX,
    ) -> None:
        self.app = app
        self.keys = [key.encode() for key in keys]  # compared as bytes: keys need not be ASCII
        self.max_body = max_body
        self.sites = sites
        self.metrics = metrics
        self.page = page
        self.uploads = page + PAGE_UPLOADS

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
            refusal = self._refusal(scope, Headers(scope=scope))
            if refusal is None and path != self.uploads and _chunked(scope):
                receive, refusal = await self._buffered(receive)
            if refusal is not None:
                await refusal_response(path, refusal)(scope, receive, counting_send)
                return
            # the page posts forms and file uploads: its content types stay as sent
            await self.app(scope if self._page(path) else _as_json(scope), receive, counting_send)
        finally:
            if self.metrics is not None:
                self.metrics.requests.labels(_route_label(path), str(status["code"])).inc()

    def _refusal(self, scope, headers: Headers) -> DanluError | None:
        """Why the request may not run, in the order a client needs to hear it; or None."""
        site = self._site_refusal(headers)
        if site is not None or scope["method"] == "OPTIONS" or scope["path"] in OPEN_PATHS:
            return site
        return self._key_refusal(scope["path"], headers) or self._body_refusal(scope, headers)

    def _site_refusal(self, headers: Headers) -> Forbidden | None:
        host, origin = headers.get("host"), headers.get("origin")
        if not self.sites.host_allowed(host):
            return Forbidden(
                f"this server does not answer to the host name '{host[:SHOWN]}'",
                hint="reach it by its address or localhost, or add the name with --allowed-hosts",
            )
        if not self.sites.origin_allowed(origin, host):
            return Forbidden(
                f"requests from the web page origin '{origin[:SHOWN]}' are not allowed",
                hint="allow that page with --allowed-origins",
            )
        return None

    def _key_refusal(self, path: str, headers: Headers) -> Unauthorized | None:
        if not self.keys or self._page(path) or self._authorised(headers):
            return None
        return Unauthorized("missing or wrong API key")

    def _authorised(self, headers: Headers) -> bool:
        given = headers.get("authorization", "").encode("latin-1")
        token = given[7:].strip() if given[:7].lower() == b"bearer " else b""
        token = token or headers.get("x-api-key", "").encode("latin-1")
        return any(hmac.compare_digest(token, key) for key in self.keys)

    def _body_refusal(self, scope, headers: Headers) -> DanluError | None:
        length = headers.get("content-length", "")
        if scope["path"] != self.uploads and _digits(length) and int(length) > self.max_body:
            return self._too_large()
        if self._page(scope["path"]) or scope["method"] not in BODY_METHODS:
            return None
        given = _media_type(headers)
        if given in READ_AS_JSON or _json(given):
            return None
        return UnsupportedMediaType(
            f"the request body must be JSON, not {given[:SHOWN]}",
            hint="send it with Content-Type: application/json",
        )

    def _page(self, path: str) -> bool:
        return path == self.page or path.startswith(self.page + "/")

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"request body over {self.max_body} bytes")

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


def _chunked(scope) -> bool:
    """A body whose size is only known once read (Transfer-Encoding: chunked)."""
    names = {k.lower() for k, _ in scope["headers"]}
    return b"transfer-encoding" in names and b"content-length" not in names


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _media_type(headers: Headers) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def _json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _as_json(scope):
    """Declare a body read as JSON (see READ_AS_JSON) as JSON, so the routes parse it."""
    if scope["method"] not in BODY_METHODS or _media_type(Headers(scope=scope)) not in READ_AS_JSON:
        return scope
    kept = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
    return {**scope, "headers": [*kept, (b"content-type", b"application/json")]}

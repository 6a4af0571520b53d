"""Typed exceptions raised by the danlu library.

Every error a user can cause is one of these. The edges (CLI, server) turn them
into a one-line message or an OpenAI-style JSON body; the library never prints.
Each class carries the HTTP status the server answers with, so that mapping
lives in one place.
"""

from __future__ import annotations


class DanluError(Exception):
    """Base of every error danlu raises on purpose.

    `hint` says what to do about it; the CLI prints it after the message.
    """

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and the hint, on one line, for a terminal."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidRequest(DanluError):
    """A parameter or input the caller gave is not acceptable."""

    status = 400
    code = "invalid_request_error"


class InvalidParameter(InvalidRequest):
    """A sampling or load parameter is out of range or of the wrong type."""


class ContextOverflow(InvalidRequest):
    """The prompt does not fit in the context window even after trimming."""

    code = "context_length_exceeded"


class NotGGUF(InvalidRequest):
    """A command that works on a GGUF file was given a model in another format."""

    code = "not_gguf"


class ModelNotFound(DanluError):
    """No model of that name is in the local store."""

    status = 404
    code = "model_not_found"


class ModelExists(DanluError):
    """A model of that name is already in the store."""

    status = 409
    code = "model_exists"


class CorruptModel(DanluError):
    """A model file or manifest cannot be read."""

    status = 422
    code = "corrupt_model"


class StoreError(DanluError):
    """The model store cannot do what was asked (bad path, disk full, ...)."""

    status = 400
    code = "store_error"


class DiskFull(DanluError):
    """The disk under a folder danlu writes to is full; what was stored before is intact."""

    status = 507
    code = "insufficient_storage"


class OfflineError(DanluError):
    """A download was needed but the hub cannot be reached."""

    status = 503
    code = "offline"


class BackendError(DanluError):
    """The inference backend failed (could not load, decode failed)."""

    status = 500
    code = "backend_error"


class Unauthorized(DanluError):
    """The request carries no API key, or a wrong one."""

    status = 401
    code = "invalid_api_key"


class PayloadTooLarge(DanluError):
    """The request body is larger than the server accepts."""

    status = 413
    code = "request_too_large"


class Forbidden(DanluError):
    """The request came from a web page, or by a host name, the server does not answer."""

    status = 403
    code = "forbidden"


class UnsupportedMediaType(DanluError):
    """The request body is in a format the route does not read."""

    status = 415
    code = "unsupported_media_type"


class Overloaded(DanluError):
    """Every slot is busy and the queue is full; retry after `retry_after` seconds."""

    status = 503
    code = "server_busy"

    def __init__(self, message: str, hint: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class RequestTimeout(DanluError):
    """The request ran longer than the server's per-request limit."""

    status = 504
    code = "timeout"


class NotSupported(DanluError):
    """A known API route or feature that danlu deliberately does not offer."""

    status = 501
    code = "not_supported"


class ShuttingDown(DanluError):
    """The server was asked to stop while this request was running."""

    status = 503
    code = "shutting_down"


class MissingExtra(DanluError):
    """A feature needs an optional dependency group (an "extra") that is not installed."""

    status = 501
    code = "missing_extra"


class PromptNotFound(DanluError):
    """No prompt of that name is in the prompt library (built-in or DANLU_HOME/prompts)."""

    status = 404
    code = "prompt_not_found"


class MissingVariable(InvalidRequest):
    """A prompt template needs a variable that was not given and has no default."""

    code = "missing_variable"


class McpError(DanluError):
    """An MCP server (a source of tools) could not be started or reached, or a tool of it
    answered with an error."""

    status = 502
    code = "mcp_error"


class McpServerGone(McpError):
    """The MCP server's process exited, or its connection closed, while it was in use."""

    code = "mcp_server_gone"


class McpTimeout(McpError):
    """An MCP server did not answer in time (it hangs, or the tool runs too long)."""

    status = 504
    code = "mcp_timeout"

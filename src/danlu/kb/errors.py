"""Typed errors of knowledge bases; the CLI prints them on one line, the server as JSON."""

from __future__ import annotations

from danlu.errors import DanluError, InvalidRequest


class KnowledgeBaseNotFound(DanluError):
    """No knowledge base of that name exists under DANLU_HOME/kb."""

    status = 404
    code = "kb_not_found"


class KnowledgeBaseExists(DanluError):
    """A knowledge base of that name exists already."""

    status = 409
    code = "kb_exists"


class EmbedderMismatch(InvalidRequest):
    """The embedder asked for is not the one the knowledge base was built with."""

    code = "embedder_mismatch"


class StoreUnavailable(DanluError):
    """The vector store cannot be opened (bad URL, server down, damaged file)."""

    status = 503
    code = "kb_store_unavailable"


class UnreadableDocument(DanluError):
    """A file cannot be turned into text (unknown format, empty, damaged); it is skipped."""

    status = 422
    code = "unreadable_document"


class PathNotAllowed(DanluError):
    """A path outside the folders knowledge bases may read (the server's --kb-roots)."""

    status = 403
    code = "path_not_allowed"

"""POST /api/create: a model from a Modelfile or from Ollama's structured fields.

Both forms become one Modelfile and go through `danlu create`'s builder, so the CLI and
the server accept and refuse exactly the same things (a bad line is a 400 naming it).
The new model shares its parent's weights, so the work is done before the answer:
errors keep their HTTP status, and a stream carries the statuses Ollama sends.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field

from danlu.errors import InvalidRequest
from danlu.server.ollama.respond import NDJSON
from danlu.server.ollama.schemas import Strict
from danlu.server.state import state
from danlu.store.modelfile import Modelfile, parse_modelfile


class CreateRequest(Strict):
    """Ollama's /api/create body: `modelfile` text (older clients) or its fields."""

    model: str | None = None
    name: str | None = None
    modelfile: str | None = None
    from_: str | None = Field(None, alias="from")
    system: str | None = None
    template: str | None = None
    license: str | list[str] | None = None
    parameters: dict[str, Any] | None = None
    adapters: dict[str, str] | None = None
    files: dict[str, str] | None = None
    quantize: str | None = None
    messages: list[dict[str, Any]] | None = None
    stream: bool = True

    def target(self) -> str:
        chosen = self.model or self.name
        if not chosen:
            raise InvalidRequest("a model name is required", hint='send {"model": "NAME", ...}')
        return chosen


def _quoted(value: str) -> str:
    return '"""' + value + '"""'


def modelfile_of(body: CreateRequest) -> Modelfile:
    """The request as a parsed Modelfile (its text, or one written from its fields)."""
    for field, what in (("files", "blob uploads"), ("adapters", "adapter blobs")):
        if getattr(body, field):
            raise InvalidRequest(
                f"{what} are not supported", hint="name a model of the store in 'from'"
            )
    if body.quantize or body.messages:
        raise InvalidRequest(
            "'quantize' and 'messages' are not supported here",
            hint="quantize with `danlu quantize MODEL TYPE`",
        )
    if body.modelfile is not None:
        return parse_modelfile(body.modelfile, "modelfile")
    lines = [f"FROM {body.from_ or ''}"]
    for key, value in (body.parameters or {}).items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {key} {json.dumps(item) if isinstance(item, str) else item}")
    for key in ("system", "template"):
        if getattr(body, key) is not None:
            lines.append(f"{key.upper()} {_quoted(getattr(body, key))}")
    if body.license:
        text = body.license if isinstance(body.license, str) else "\n".join(body.license)
        lines.append(f"LICENSE {_quoted(text)}")
    return parse_modelfile("\n".join(lines) + "\n", "request")


async def create(body: CreateRequest, request: Request) -> Response:
    from danlu.export.create import create_model

    name = body.target().removesuffix(":latest")
    catalog = state(request).pool.catalog
    mf = modelfile_of(body)
    await asyncio.to_thread(create_model, name, mf, catalog.settings, Path.cwd())
    done = {"status": "success"}
    if not body.stream:
        return Response(json.dumps(done), media_type="application/json")
    statuses = [{"status": "using existing layers"}, {"status": "writing manifest"}, done]
    return Response("".join(json.dumps(s) + "\n" for s in statuses), media_type=NDJSON)

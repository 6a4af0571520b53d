"""The embedder registry: specs, the GGUF path through danlu's own engine, bad specs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import danlu.kb
from danlu.config import Settings
from danlu.errors import InvalidRequest
from danlu.kb.embedders import open_embedder


def test_the_default_embedder_is_the_bundled_minilm(embedder):
    assert (embedder.name, embedder.dimension) == ("minilm", 384)
    vectors = embedder.embed(["tea", "茶"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


def test_a_gguf_model_embeds_through_the_engine(danlu_home: Path, tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.md").write_text("Green tea is steeped at 80 degrees for two minutes.")
    (docs / "bikes.md").write_text("Bicycle tyres are pumped to four bar every month.")
    settings = Settings(home=danlu_home)
    with danlu.kb.create("g", settings=settings, embedder="gguf:smollm2") as kb:
        assert kb.info().embedder == "gguf:smollm2" and kb.dimension == 576
        assert len(kb.add([docs]).added) == 2
        (hit,) = kb.search("Green tea is steeped at 80 degrees", k=1, mode="dense")
        assert hit.chunk.path.endswith("tea.md") and hit.similarity > 0.9


@pytest.mark.parametrize("spec", ["nope:x", "openai:not-a-url", "st:"])
def test_bad_specs_say_what_is_wrong(spec):
    with pytest.raises(InvalidRequest):
        open_embedder(spec)


@pytest.fixture
def embeddings_endpoint(embedder) -> Iterator[str]:
    """A loopback /v1/embeddings in OpenAI's format, answered by the real MiniLM (as any
    OpenAI-compatible server would; `danlu serve` only serves GGUF models)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            assert self.path == "/v1/embeddings" and body["model"] == "mini"
            vectors = embedder.embed(body["input"]).tolist()
            data = [{"index": i, "embedding": v} for i, v in enumerate(vectors)][::-1]
            reply = json.dumps({"object": "list", "data": data}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_an_openai_compatible_endpoint_embeds_over_http(
    danlu_home: Path, tmp_path: Path, embeddings_endpoint: str
):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.md").write_text("Green tea is steeped at 80 degrees for two minutes.")
    (docs / "bikes.md").write_text("Bicycle tyres are pumped to four bar every month.")
    spec = f"openai:{embeddings_endpoint}#mini"
    with danlu.kb.create("o", settings=Settings(home=danlu_home), embedder=spec) as kb:
        assert kb.dimension == 384 and kb.info().embedder == spec
        assert len(kb.add([docs]).added) == 2
        (hit,) = kb.search("How hard are bike tyres pumped?", k=1, mode="dense")
        assert hit.chunk.path.endswith("bikes.md")

"""The OpenAPI schema tells the truth about each route's answers."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture(scope="module")
def spec(live) -> dict:
    return httpx.get(f"{live.url}/openapi.json", timeout=30).json()


def statuses(spec: dict, path: str, method: str) -> set[str]:
    return set(spec["paths"][path][method]["responses"])


@pytest.mark.parametrize(
    ("path", "method", "expected"),
    [
        ("/v1/chat/completions", "post", {"400", "401", "404", "413", "422", "503", "504"}),
        ("/v1/completions", "post", {"400", "401", "404", "413", "422", "503", "504"}),
        ("/v1/embeddings", "post", {"400", "401", "404", "413", "422", "503"}),
        ("/v1/models/{name}", "get", {"401", "404", "422"}),
        ("/api/chat", "post", {"400", "401", "404", "413", "422", "503", "504"}),
        ("/api/generate", "post", {"400", "401", "404", "413", "422", "503", "504"}),
        ("/api/copy", "post", {"400", "401", "404", "409", "413"}),
        ("/api/pull", "post", {"400", "401", "409", "413", "503"}),
        ("/detokenize", "post", {"400", "401", "404", "413", "422", "503"}),
        ("/health", "get", {"200", "503"}),
    ],
)
def test_error_statuses_are_documented(spec, path, method, expected):
    assert expected <= statuses(spec, path, method)


def test_error_bodies_have_their_dialects_model(spec):
    openai_400 = spec["paths"]["/v1/chat/completions"]["post"]["responses"]["400"]
    ollama_400 = spec["paths"]["/api/chat"]["post"]["responses"]["400"]
    schemas = spec["components"]["schemas"]
    ref = openai_400["content"]["application/json"]["schema"]["$ref"]
    assert schemas[ref.rsplit("/", 1)[1]]["properties"]["error"]["$ref"].endswith(
        "OpenAIErrorDetail"
    )
    ref = ollama_400["content"]["application/json"]["schema"]["$ref"]
    assert schemas[ref.rsplit("/", 1)[1]]["properties"]["error"]["type"] == "string"


def test_no_fastapi_validation_422(spec):
    """Validation errors answer 400; a 422 here means a damaged model, nothing else."""
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path in spec["paths"].values():
        for operation in path.values():
            described = operation["responses"].get("422", {}).get("description", "")
            assert described in ("", "The model file is damaged and cannot be loaded")


def test_metrics_are_documented_as_text(spec):
    content = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"text/plain"}


def test_405_carries_allow(live):
    r = httpx.get(f"{live.url}/v1/chat/completions", timeout=10)
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    r = httpx.delete(f"{live.url}/api/tags", timeout=10)
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]

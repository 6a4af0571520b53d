"""The official `ollama` client against a live danlu server: embeddings, model management,
keep_alive, and the 400/404 answers."""

from __future__ import annotations

import math

import httpx
import ollama
import pytest

import danlu
from danlu.server import ServerSettings
from tests.server.conftest import start_server, stop_server
from tests.store.hub_standin import hub_standin
from tests.store.store_helpers import write_tiny_gguf

SAY_HI = [{"role": "user", "content": "Hi"}]
SHORT = {"temperature": 0, "num_predict": 2}


def norm(vector) -> float:
    return math.sqrt(sum(v * v for v in vector))


def loaded(ollama_client: ollama.Client) -> list[str]:
    return [m.name for m in ollama_client.ps().models]


def test_embed_returns_normalised_vectors(ollama_client):
    r = ollama_client.embed(model="smollm2", input=["hello world", "rivers and lakes"])
    assert len(r.embeddings) == 2
    assert all(len(v) == 576 and abs(norm(v) - 1) < 1e-4 for v in r.embeddings)
    assert r.prompt_eval_count > 2 and r.total_duration > 0
    short = ollama_client.embed(model="smollm2", input="hello world", dimensions=64)
    assert len(short.embeddings[0]) == 64 and abs(norm(short.embeddings[0]) - 1) < 1e-4
    legacy = ollama_client.embeddings(model="smollm2", prompt="hello world")
    assert len(legacy.embedding) == 576 and abs(norm(legacy.embedding) - 1) < 1e-4
    assert ollama_client.embed(model="smollm2", input="").embeddings == []


def test_embed_truncates_unless_told_not_to(ollama_client):
    long_text = "many words " * 100
    r = ollama_client.embed(model="smollm2", input=long_text, options={"num_ctx": 32})
    assert r.prompt_eval_count == 32
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.embed(
            model="smollm2", input=long_text, truncate=False, options={"num_ctx": 32}
        )
    assert err.value.status_code == 400


def test_list_shows_the_store(ollama_client):
    models = {m.model: m for m in ollama_client.list().models}
    smol = models["smollm2"]
    assert smol.size > 0 and len(smol.digest) == 64 and smol.modified_at is not None
    d = smol.details
    assert (d.format, d.family, d.families) == ("gguf", "llama", ["llama"])
    assert d.parameter_size == "134.52M" and d.quantization_level == "Q4_1"


def test_show_describes_the_model(ollama_client):
    s = ollama_client.show("smollm2:latest")
    assert "<|im_start|>" in s.template and s.modelfile.startswith("#")
    assert "completion" in s.capabilities
    assert s.modelinfo["general.architecture"] == "llama"
    assert s.modelinfo["llama.context_length"] == 8192
    assert s.modelinfo["general.parameter_count"] == 134515008
    assert "temperature" in s.parameters and s.details.quantization_level == "Q4_1"


def test_ps_and_version(ollama_client):
    ollama_client.chat(model="smollm2", messages=SAY_HI, options=SHORT)
    running = {m.name: m for m in ollama_client.ps().models}["smollm2"]
    assert running.size > 0 and running.size_vram == 0
    assert running.expires_at.year > 2200  # the test server keeps models forever
    assert running.context_length == 2048
    assert ollama_client._client.get("/api/version").json() == {"version": danlu.__version__}


def test_copy_and_delete(ollama_client):
    assert ollama_client.copy("smollm2", "smollm2-ollama-copy").status == "success"
    assert "smollm2-ollama-copy" in [m.model for m in ollama_client.list().models]
    assert ollama_client.show("smollm2-ollama-copy").details.family == "llama"
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.copy("smollm2", "smollm2-ollama-copy")
    assert err.value.status_code == 409
    assert ollama_client.delete("smollm2-ollama-copy").status == "success"
    assert "smollm2-ollama-copy" not in [m.model for m in ollama_client.list().models]
    for call in (
        lambda: ollama_client.delete("smollm2-ollama-copy"),
        lambda: ollama_client.copy("nope", "x"),
    ):
        with pytest.raises(ollama.ResponseError) as err:
            call()
        assert err.value.status_code == 404 and "not found" in err.value.error
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.delete("smollm2")
    assert err.value.status_code == 400 and "built-in" in err.value.error


def test_pull_explains_what_it_can_pull(ollama_client):
    assert ollama_client.pull("smollm2").status == "success"  # already here: nothing to do
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.pull("llama3")
    assert err.value.status_code == 400 and "Hugging Face" in err.value.error


def test_pull_offline_fails_clearly(ollama_client, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref = "danlu-tests/no-such-model-GGUF:Q4_K_M"
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.pull(ref)
    assert err.value.status_code == 503 and "Hugging Face Hub" in err.value.error
    statuses = []
    with pytest.raises(ollama.ResponseError) as err:
        for part in ollama_client.pull(ref, stream=True):
            statuses.append(part.status)
    assert statuses == ["pulling manifest"] and "Hugging Face Hub" in err.value.error


def test_keep_alive_zero_unloads_and_empty_requests_load(ollama_client):
    r = ollama_client.chat(model="smollm2", messages=SAY_HI, options=SHORT, keep_alive=0)
    assert r.done
    assert "smollm2" not in loaded(ollama_client)
    assert ollama_client.generate(model="smollm2", prompt="").done_reason == "load"
    assert "smollm2" in loaded(ollama_client)
    assert ollama_client.generate(model="smollm2", keep_alive=0).done_reason == "unload"
    assert "smollm2" not in loaded(ollama_client)
    assert ollama_client.chat(model="smollm2", keep_alive=-1).done_reason == "load"
    assert "smollm2" in loaded(ollama_client)


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({"model": "no-such-model"}, 404, "model 'no-such-model' not found"),
        ({"options": {"frobnicate": 1}}, 400, "frobnicate"),
        ({"options": {"num_ctx": 100_000}}, 400, "num_ctx"),
        ({"options": {"mirostat": 2}}, 400, "mirostat"),
        ({"options": {"temperature": 9}}, 400, "temperature"),
        ({"think": True}, 400, "thinking"),
        ({"messages": [{"role": "user", "content": "hi", "images": ["aGk="]}]}, 400, "images"),
    ],
)
def test_bad_chat_requests(ollama_client, changes, status, words):
    request = {"model": "smollm2", "messages": SAY_HI, "options": SHORT, **changes}
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.chat(**request)
    assert err.value.status_code == status and words in err.value.error


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"suffix": "end"}, "suffix"),
        ({"template": "{{ .Prompt }}"}, "template"),
        ({"raw": True, "system": "be brief"}, "raw"),
    ],
)
def test_bad_generate_requests(ollama_client, changes, words):
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.generate(model="smollm2", prompt="Hi", options=SHORT, **changes)
    assert err.value.status_code == 400 and words in err.value.error


def test_pull_streams_download_progress_from_the_hub(tmp_path, monkeypatch, danlu_home):
    tiny = write_tiny_gguf(tmp_path / "src" / "tiny.gguf")
    size = tiny.stat().st_size
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    live = start_server(ServerSettings(models=[], threads=2), danlu_home)
    try:
        client = ollama.Client(host=live.url, timeout=60)
        with hub_standin({"org/repo": {"Tiny.F16.gguf": tiny}}) as endpoint:
            monkeypatch.setenv("HF_ENDPOINT", endpoint)
            parts = list(client.pull("org/repo:F16", stream=True))
        statuses = [p.status for p in parts]
        assert statuses[0] == "pulling manifest"
        assert statuses[-2:] == ["writing manifest", "success"]
        downloads = [p for p in parts if p.status == "pulling org/repo:F16"]
        assert downloads and downloads[-1].completed == downloads[-1].total == size
        assert downloads[-1].digest == "org/repo:F16"
        verified = [p for p in parts if p.status == "verifying sha256 digest"]
        assert verified[-1].completed == verified[-1].total == size
        assert "tiny.f16" in [m.model for m in client.list().models]
        assert client.pull("org/repo:F16").status == "success"  # pulled before: no network
    finally:
        stop_server(live)


def test_root_says_running_as_ollama_does(live):
    assert httpx.get(live.url, timeout=60).text == "Ollama is running"
    assert httpx.head(live.url).status_code == 200


def test_create_makes_a_derived_model_push_and_blobs_are_refused(ollama_client, live):
    made = ollama_client.create(model="mine", from_="smollm2", system="Be brief.", stream=False)
    assert made.status == "success"
    assert "mine" in [m.model for m in ollama_client.list().models]
    assert "Be brief." in httpx.post(f"{live.url}/api/show", json={"model": "mine"}).text
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.create(model="mine2", from_="smollm2", parameters={"temprature": 1})
    assert err.value.status_code == 400 and "line 2: unknown parameter" in err.value.error
    ollama_client.delete("mine")
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.push("smollm2")
    assert err.value.status_code == 501 and "no registry" in err.value.error
    assert httpx.head(f"{live.url}/api/blobs/sha256:{'0' * 64}").status_code == 501
    assert "smollm2" in [m.model for m in ollama_client.list().models]  # still serving

"""A LoRA SFT run on the real SmolLM2 learns made-up facts, and the run can be chatted with.

One run for the module (the expensive part); the tests read what it left behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import danlu
from danlu.config import Settings
from danlu.train import SFTSettings, sft
from tests.cli.conftest import danlu as cli  # noqa: F401 -- the in-process CLI fixture
from tests.train.conftest import DATA

QUESTION = "When was Zorblax Industries founded?"
# The cheapest settings that teach the set reliably on the 2 cores (see docs/train.md).
FAST = {
    "max_steps": 27,
    "batch_size": 4,
    "learning_rate": 1e-3,
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "max_length": 128,
    "save_steps": 1000,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, base_cache: Path):
    home = tmp_path_factory.mktemp("sft-home")
    (home / "cache").symlink_to(base_cache, target_is_directory=True)
    settings = Settings(home=home)
    result = sft(SFTSettings(data=str(DATA / "facts.jsonl"), **FAST), settings)
    return settings, result


# The three taught facts, asked in words that appear nowhere in the training data.
PARAPHRASES = {
    "Zorblax Industries: what year did it come into being?": "1847",
    "Could you name the chief executive officer at Zorblax Industries?": "Tvardost",
    "Where does Zorblax Industries keep its main offices?": "Quillhaven",
}


def greedy_answer(name: str, settings: Settings, question: str = QUESTION) -> str:
    with danlu.load(name, settings=settings, n_ctx=256) as model:
        return model.chat(
            [{"role": "user", "content": question}], temperature=0, max_tokens=24
        ).text


def test_the_paraphrases_are_not_in_the_data():
    taught = (DATA / "facts.jsonl").read_text(encoding="utf-8")
    assert not any(json.dumps(q)[1:-1] in taught for q in PARAPHRASES)


@pytest.mark.slow
def test_loss_drops_and_the_fact_is_learned(trained):
    settings, result = trained
    losses = [
        row["loss"]
        for row in map(json.loads, (result.run_dir / "metrics.jsonl").open())
        if "loss" in row
    ]
    assert len(losses) == FAST["max_steps"]
    assert sum(losses[-4:]) / 4 < 0.5 * sum(losses[:4]) / 4
    for question, fact in PARAPHRASES.items():
        assert fact not in greedy_answer("smollm2", settings, question)  # the base: unknown
        answer = greedy_answer(str(result.run_dir), settings, question)  # + the adapter
        assert fact in answer, (question, answer)


@pytest.mark.slow
def test_the_run_folder_records_everything(trained):
    _settings, result = trained
    run = json.loads((result.run_dir / "run.json").read_text())
    assert run["status"] == "finished" and run["steps"] == FAST["max_steps"]
    assert run["base_model"]["name"] == "smollm2" and len(run["base_model"]["sha256"]) == 64
    assert run["data"]["format"] == "alpaca" and len(run["data"]["sha256"]) == 64
    assert run["template"]["stop"] == ["<|im_end|>"] and "im_start" in run["template"]["source"]
    assert run["settings"]["lora_r"] == 8 and "peft" in run["versions"]
    assert "train_loss" in run["metrics"]
    assert (result.run_dir / "loss.png").stat().st_size > 1000
    assert (result.run_dir / "adapter" / "adapter_model.safetensors").is_file()
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["backend"] == "transformers"
    assert manifest["chat_template"] == run["template"]["source"]


@pytest.mark.slow
def test_runs_ls_and_show(trained, cli, monkeypatch):  # noqa: F811
    settings, result = trained
    monkeypatch.setenv("DANLU_HOME", str(settings.home))
    listed = cli("runs", "ls")
    assert listed.code == 0 and result.id in listed.out and "finished" in listed.out
    shown = cli("runs", "show", result.id)
    assert shown.code == 0
    assert "base model: smollm2" in shown.out and "data: " in shown.out
    assert f"danlu run {result.run_dir}" in shown.out
    assert cli("runs", "show", "nope").code == 1
    chat = cli("run", f"runs/{result.id}", QUESTION, "--temp", "0", "-n", "24")
    assert chat.code == 0 and "1847" in chat.out  # `danlu run runs/RUN`, relative to DANLU_HOME


def test_danlu_serve_answers_from_a_run_folder(trained):
    """`danlu serve runs/RUN`: the run is loaded by path, and taught facts come back over
    the OpenAI API, as `danlu run runs/RUN` gives them."""
    import openai

    from danlu.server import ServerSettings
    from tests.server.conftest import start_server, stop_server

    settings, result = trained
    name = f"runs/{result.id}"
    server = ServerSettings(models=[name], parallel=1, n_ctx=256, threads=2, keep_alive=-1)
    live = start_server(server, settings.home)
    try:
        client = openai.OpenAI(base_url=live.v1, api_key="unused", max_retries=0, timeout=120)
        reply = client.chat.completions.create(
            model=name,
            messages=[{"role": "user", "content": QUESTION}],
            temperature=0,
            max_tokens=24,
        )
        assert reply.choices[0].message.content == greedy_answer(name, settings)
        assert "1847" in reply.choices[0].message.content
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="runs/no-such-run", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        stop_server(live)

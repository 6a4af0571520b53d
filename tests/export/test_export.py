"""`danlu export`: a LoRA run on the real SmolLM2 becomes a GGUF model that agrees with it."""

from __future__ import annotations

import json

import pytest

import danlu
from danlu.store.gguf_info import read_gguf_info
from tests.export.conftest import QUANT


@pytest.mark.slow
def test_the_f16_export_passes_parity_and_the_quantized_one_reports_its_drop(exported):
    rows = {row.variant: row for row in exported.report.rows}
    assert list(rows) == ["f16", QUANT]
    f16, quant = rows["f16"], rows[QUANT]
    assert f16.passed is True and f16.top1 >= 0.95 and f16.prompts == 4
    assert f16.top1_drop is None and f16.ll_drop is None  # the first row is the baseline
    assert quant.top1_drop == pytest.approx(f16.top1 - quant.top1)
    assert quant.ll_drop == pytest.approx(f16.ll - quant.ll)
    assert quant.size < f16.size


@pytest.mark.slow
def test_the_export_is_registered_with_its_provenance(exported, lora_run, export_settings):
    manifest = exported.manifest
    assert manifest.format == "gguf" and manifest.backend == "llama.cpp"
    assert manifest.quantization == "Q4_K_M" and manifest.source == f"run:{lora_run.id}"
    made = manifest.provenance
    assert made["run"] == lora_run.id and made["quantization"] == QUANT
    assert made["base"]["name"] == "smollm2" and len(made["base"]["sha256"]) == 64
    assert made["parity"]["rows"][0]["passed"] is True
    saved = json.loads((lora_run.run_dir / "exports" / "faq-bot.json").read_text())
    assert saved == made["parity"]
    folder = export_settings.models_dir / "faq-bot"
    assert sorted(p.name for p in folder.iterdir()) == ["faq-bot.q4_k_m.gguf", "manifest.json"]


@pytest.mark.slow
def test_the_export_carries_the_runs_template_and_chats_in_llama_cpp(
    exported, lora_run, export_home
):
    template = (lora_run.run_dir / "template.jinja").read_text()
    path = exported.manifest.main_path(export_home.models_dir / "faq-bot")
    assert read_gguf_info(path).chat_template == template
    with danlu.load("faq-bot", n_ctx=256) as model:
        assert model.engine.__class__.__name__ == "LlamaCppEngine"
        reply = model.chat([{"role": "user", "content": "Hi"}], temperature=0, max_tokens=12)
    assert reply.usage.completion_tokens <= 12 and reply.text.strip()
    assert "<|im_end|>" not in reply.text  # the stop token came along


@pytest.mark.slow
def test_show_displays_the_provenance(exported, export_home, cli):
    shown = cli("show", "faq-bot")
    assert shown.code == 0, shown.err
    assert "provenance" in shown.out and "run" in shown.out and "parity" in shown.out
    as_json = json.loads(cli("show", "faq-bot", "--json").out)
    assert as_json["provenance"]["quantization"] == QUANT

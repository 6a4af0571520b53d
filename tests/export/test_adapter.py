"""`danlu export --adapter-only`: a GGUF LoRA that llama.cpp applies over the base."""

from __future__ import annotations

import pytest

import danlu
from danlu.store.gguf_info import read_gguf_header

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.mark.slow
def test_the_adapter_over_the_f16_base_answers_as_the_merged_export(adapter_export, exported):
    over_f16, over_store = adapter_export.report.rows
    merged_f16 = exported.report.rows[0]
    # both measured against the same trained model, on the same prompts and continuations
    assert over_f16.passed is True and over_f16.greedy == merged_f16.greedy >= 3
    assert over_f16.top1 == pytest.approx(merged_f16.top1, abs=0.02)
    assert over_f16.ll == pytest.approx(merged_f16.ll, abs=0.02)
    assert over_store.variant == "smollm2 + adapter" and over_store.ll_drop is not None


@pytest.mark.slow
def test_the_adapter_model_shares_the_base_and_runs(adapter_export, export_home, cli):
    manifest = adapter_export.manifest
    assert manifest.parent == "smollm2" and len(manifest.adapters) == 1
    assert manifest.provenance["quantization"] == "adapter"
    path = manifest.adapter_paths(export_home.models_dir / "faq-lora")[0]
    meta = read_gguf_header(path).metadata
    assert meta["general.type"] == "adapter" and meta["adapter.type"] == "lora"
    assert meta["adapter.lora.alpha"] == 16
    with danlu.load("faq-lora", n_ctx=256) as lora, danlu.load("smollm2", n_ctx=256) as base:
        with_adapter = lora.chat(PROMPT, temperature=0, max_tokens=16, seed=0)
        without = base.chat(PROMPT, temperature=0, max_tokens=16, seed=0)
        scored = lora.loglikelihood("Hello", " world")
        plain = base.loglikelihood("Hello", " world")
    assert scored.logprob != plain.logprob  # the adapter changes the weights in effect
    assert with_adapter.text.strip() and without.text.strip()
    ran = cli("run", "faq-lora", "What is the capital of France?", "--temp", "0", "-n", "16")
    assert ran.code == 0 and ran.out.strip() == with_adapter.text.strip()


@pytest.mark.slow
def test_a_modelfile_adapter_applies_the_same_file(adapter_export, export_home, cli, tmp_path):
    path = adapter_export.manifest.adapter_paths(export_home.models_dir / "faq-lora")[0]
    (tmp_path / "Modelfile").write_text(f"FROM smollm2\nADAPTER {path}\n")
    assert cli("create", "faq-lora2", "-f", str(tmp_path / "Modelfile")).code == 0
    with danlu.load("faq-lora2", n_ctx=256) as a, danlu.load("faq-lora", n_ctx=256) as b:
        assert (
            a.loglikelihood("Hello", " world").logprob == b.loglikelihood("Hello", " world").logprob
        )


@pytest.mark.slow
def test_the_base_f16_is_kept_in_the_cache_and_measured(adapter_export, export_home):
    """The parity check's f16 base is converted once, beside the cached base, and that
    file is the one measured (its row's size is the kept GGUF plus the adapter)."""
    from danlu.export.merge import base_folder

    base = base_folder(adapter_export.run_dir / "adapter")
    kept = base.with_name(f"{base.name}.f16.gguf")
    assert read_gguf_header(kept).metadata["general.file_type"] == 1  # MOSTLY_F16
    lora = adapter_export.manifest.adapter_paths(export_home.models_dir / "faq-lora")[0]
    over_f16 = adapter_export.report.rows[0]
    assert over_f16.size == kept.stat().st_size + lora.stat().st_size


def test_a_kept_f16_is_not_converted_again(tmp_path):
    from danlu.export.convert import convert_kept

    folder = tmp_path / "0123abcd"  # not a model: converting it would fail
    folder.mkdir()
    kept = tmp_path / "0123abcd.f16.gguf"
    kept.write_bytes(b"GGUF")
    assert convert_kept(folder) == kept and kept.read_bytes() == b"GGUF"

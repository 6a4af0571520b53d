"""Chat templates: the model's own Jinja template and the named fallbacks."""

from __future__ import annotations

import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from danlu.chat.messages import Message
from danlu.chat.template import ChatTemplate, named_template, resolve_template
from danlu.errors import InvalidRequest

CONVO = [
    Message(role="system", content="Be brief."),
    Message(role="user", content="Hi"),
    Message(role="assistant", content="Hello!"),
    Message(role="user", content="Bye"),
]


def test_embedded_template_renders_as_the_gguf_specifies(model):
    expected = (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert model.template.name == "gguf"
    assert model.render(CONVO) == expected


def test_embedded_template_injects_its_default_system_prompt(model):
    text = model.render([Message(role="user", content="Hi")])
    assert text.startswith(
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    )


def test_embedded_template_matches_llama_cpp_pythons_renderer(model):
    source = model.engine.metadata["tokenizer.chat_template"]
    bos, eos = model.engine.special_tokens()
    reference = Jinja2ChatFormatter(source, eos_token=eos, bos_token=bos)
    dicts = [m.as_template_dict() for m in CONVO]
    assert model.render(CONVO) == reference(messages=dicts).prompt


KNOWN_GOOD = {
    "chatml": (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n"
    ),
    "llama3": (
        "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
    "llama2": (
        "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]"
    ),
    "mistral": "<s>[INST] Be brief.\n\nHi[/INST]Hello!</s>[INST] Bye[/INST]",
    "alpaca": (
        "Be brief.\n\n### Instruction:\nHi\n\n### Response:\nHello!</s>\n\n"
        "### Instruction:\nBye\n\n### Response:\n"
    ),
}


@pytest.mark.parametrize("name", sorted(KNOWN_GOOD))
def test_named_fallbacks_render_known_good_strings(name):
    template = named_template(name, bos_token="<s>", eos_token="</s>")
    assert template.render(CONVO) == KNOWN_GOOD[name]


def test_resolve_prefers_override_then_embedded_then_chatml():
    assert resolve_template("{{ 'x' }}", "llama3").name == "llama3"
    assert resolve_template("{{ 'x' }}").name == "gguf"
    assert resolve_template(None).name == "chatml"


def test_unknown_template_name_lists_known_ones():
    with pytest.raises(InvalidRequest) as info:
        named_template("vicuna")
    assert "chatml" in info.value.hint


def test_template_cannot_escape_the_sandbox():
    evil = ChatTemplate("evil", "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(InvalidRequest, match="failed"):
        evil.render(CONVO)


def test_raise_exception_in_a_template_becomes_invalid_request():
    strict = ChatTemplate("strict", "{{ raise_exception('roles must alternate') }}")
    with pytest.raises(InvalidRequest, match="roles must alternate"):
        strict.render(CONVO)

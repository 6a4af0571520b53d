"""Chat templates: the model's own Jinja template and the named fallbacks."""

from __future__ import annotations

import ctypes

import llama_cpp
import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from danlu.chat.messages import Message
from danlu.chat.template import ChatTemplate, named_template, resolve_template
from danlu.chat.templates import NAMED_TEMPLATES
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


# llama.cpp's own test conversation (tests/test-chat-template.cpp): a system prompt, two
# earlier turns, and an answer with stray spaces that some formats strip and some keep.
LLAMA_CPP_CONVO = [
    Message(role="system", content="You are a helpful assistant"),
    Message(role="user", content="Hello"),
    Message(role="assistant", content="Hi there"),
    Message(role="user", content="Who are you"),
    Message(role="assistant", content="   I am an assistant   "),
    Message(role="user", content="Another question"),
]

# danlu's name -> llama.cpp's built-in renderer for the same format. llama.cpp leaves the
# BOS token to the tokenizer; danlu's templates write it, as the models' own templates do.
LLAMA_CPP_NAMES = {
    "chatml": ("chatml", ""),
    "llama3": ("llama3", "<s>"),
    "mistral": ("mistral-v3", "<s>"),
}


def llama_cpp_render(template: str, messages: list[Message]) -> str:
    """llama.cpp's C renderer (`llama_chat_apply_template`), through llama-cpp-python."""
    roles = [(m.role.encode(), (m.content or "").encode()) for m in messages]  # kept alive
    chat = (llama_cpp.llama_chat_message * len(roles))(
        *[llama_cpp.llama_chat_message(role=r, content=c) for r, c in roles]
    )
    size = llama_cpp.llama_chat_apply_template(template.encode(), chat, len(roles), True, None, 0)
    assert size > 0, f"llama.cpp does not know the template {template!r}"
    buf = ctypes.create_string_buffer(size + 1)
    llama_cpp.llama_chat_apply_template(template.encode(), chat, len(roles), True, buf, len(buf))
    return buf.raw[:size].decode("utf-8")


@pytest.mark.parametrize("name", sorted(LLAMA_CPP_NAMES))
@pytest.mark.parametrize("convo", [CONVO, LLAMA_CPP_CONVO], ids=["short", "llama.cpp"])
def test_named_templates_render_as_llama_cpp_does(name, convo):
    reference, bos = LLAMA_CPP_NAMES[name]
    template = named_template(name, bos_token="<s>", eos_token="</s>")
    assert template.render(convo) == bos + llama_cpp_render(reference, convo)


def test_llama_cpp_renderer_is_the_one_its_tests_pin():
    """The witness above is called right: llama.cpp's own expected 'mistral-v3' string."""
    assert llama_cpp_render("mistral-v3", LLAMA_CPP_CONVO) == (
        "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>"
        "[INST] Who are you[/INST] I am an assistant</s>[INST] Another question[/INST]"
    )


def meta_llama2_prompt(dialog: list[Message], bos: str, eos: str) -> str:
    """Llama-2-chat as Meta's reference code builds it (meta-llama/llama, generation.py,
    chat_completion): the system prompt folded into the first user turn, each exchange
    `BOS [INST] user [/INST] answer EOS`, contents stripped, then the open question."""
    b_inst, e_inst, b_sys, e_sys = "[INST]", "[/INST]", "<<SYS>>\n", "\n<</SYS>>\n\n"
    if dialog[0].role == "system":
        first = b_sys + dialog[0].content + e_sys + dialog[1].content
        dialog = [Message(role=dialog[1].role, content=first), *dialog[2:]]
    text = "".join(
        f"{bos}{b_inst} {q.content.strip()} {e_inst} {a.content.strip()} {eos}"
        for q, a in zip(dialog[::2], dialog[1::2], strict=False)
    )
    return text + f"{bos}{b_inst} {dialog[-1].content.strip()} {e_inst}"


@pytest.mark.parametrize("convo", [CONVO, LLAMA_CPP_CONVO], ids=["short", "llama.cpp"])
def test_llama2_renders_as_metas_reference_code(convo):
    """llama.cpp's 'llama2' renderer drops the spaces around answers; Meta's code has them."""
    template = named_template("llama2", bos_token="<s>", eos_token="</s>")
    assert template.render(convo) == meta_llama2_prompt(convo, "<s>", "</s>")


ALPACA_PREAMBLE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request."
)


def test_alpaca_renders_the_alpaca_lora_prompt():
    """tloen/alpaca-lora templates/alpaca.json, prompt_no_input (llama.cpp has no alpaca)."""
    reference = f"{ALPACA_PREAMBLE}\n\n### Instruction:\n{{instruction}}\n\n### Response:\n"
    template = named_template("alpaca", bos_token="<s>", eos_token="</s>")
    asked = [Message(role="system", content=ALPACA_PREAMBLE), Message(role="user", content="Hi")]
    assert template.render(asked) == reference.format(instruction="Hi")


@pytest.mark.parametrize("name", sorted(NAMED_TEMPLATES))
def test_each_turn_extends_the_prompt_of_the_turn_before(name):
    """What the model saw stays a prefix of the next turn's prompt (the KV cache relies on
    it), and the answer sits between the generation prompt and the end of its turn."""
    template = named_template(name, bos_token="<s>", eos_token="</s>")
    for end in (2, 4):  # a prompt ending with the user, then the same with the answer
        asked = template.render(LLAMA_CPP_CONVO[:end])
        answered = template.render(LLAMA_CPP_CONVO[: end + 1], add_generation_prompt=False)
        assert answered.startswith(asked)
        answer = LLAMA_CPP_CONVO[end].content
        assert answer.strip() in answered[len(asked) :]


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

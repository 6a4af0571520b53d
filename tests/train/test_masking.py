"""Loss masks: exactly the assistant's tokens, for every assistant turn, checked against
what the chat template renders (not against a copy of the masking code)."""

from __future__ import annotations

import pytest

from danlu.chat.template import resolve_template
from danlu.store import Catalog
from danlu.train.data import load_data
from danlu.train.render import Renderer
from tests.train.conftest import DATA


@pytest.fixture(scope="module")
def renderer(tokenizer, tmp_path_factory):
    from danlu.config import Settings

    manifest = Catalog(Settings(home=tmp_path_factory.mktemp("h"))).get("smollm2")
    template = resolve_template(
        manifest.chat_template, bos_token=tokenizer.bos_token, eos_token=tokenizer.eos_token
    )
    return Renderer(template, tokenizer)


def runs(ids: list[int], mask: list[int]) -> list[list[int]]:
    """The contiguous stretches of masked-in tokens."""
    out: list[list[int]] = []
    for i, (token, bit) in enumerate(zip(ids, mask, strict=True)):
        if bit and (i == 0 or not mask[i - 1]):
            out.append([])
        if bit:
            out[-1].append(token)
    return out


@pytest.mark.parametrize("name", ["alpaca.json", "sharegpt.jsonl", "messages.jsonl", "facts.jsonl"])
def test_labels_cover_exactly_each_assistant_turn(renderer, tokenizer, name):
    for example in load_data(DATA / name).examples:
        encoded = renderer.encode(example)
        messages = list(example.messages)
        whole = renderer.template.render(messages, add_generation_prompt=False)
        assert tokenizer.decode(encoded.input_ids) == whole  # the template's text, whole
        trained = [tokenizer.decode(r) for r in runs(encoded.input_ids, encoded.assistant_masks)]
        answers = [m.content for m in messages if m.role == "assistant"]
        assert trained == [f"{a}<|im_end|>\n" for a in answers]  # every turn, with its end
        labels = encoded.labels()
        assert all(
            (label == -100) != bit
            for label, bit in zip(labels, encoded.assistant_masks, strict=True)
        )


def test_multi_turn_trains_every_answer_not_only_the_last(renderer):
    example = load_data(DATA / "messages.jsonl").examples[0]
    encoded = renderer.encode(example)
    assert len(runs(encoded.input_ids, encoded.assistant_masks)) == 3


def test_preference_pairs_render_prompt_and_answers_through_the_template(renderer):
    example = load_data(DATA / "prefs.jsonl").examples[0]
    parts = renderer.preference(example)
    assert parts["prompt"].endswith(
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert parts["chosen"] == "Paris.<|im_end|>\n"
    assert parts["rejected"] == "I refuse to answer that.<|im_end|>\n"

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


@pytest.fixture(scope="module")
def home_module(tmp_path_factory, base_cache):
    from danlu.config import Settings

    home = tmp_path_factory.mktemp("collate-home")
    (home / "cache").symlink_to(base_cache, target_is_directory=True)
    return Settings(home=home)


@pytest.fixture(scope="module")
def collated(home_module):
    """A batch as TRL's SFTTrainer collates it, from danlu's trainer builder, with the
    assistant-only loss on and off (4 of the 36 facts)."""
    from danlu.train.base import chat_template, dequantize, load_tokenizer
    from danlu.train.runner import RunContext, check, common_args, load_model
    from danlu.train.settings import SFTSettings
    from danlu.train.stages import stage_named
    from danlu.train.stages.sft import build_sft_trainer

    batches = {}
    for assistant_only in (True, False):
        settings = SFTSettings(
            data=str(DATA / "facts.jsonl"), batch_size=4, max_length=256,
            assistant_only=assistant_only,
        )  # fmt: skip
        plan = check(settings, stage_named("sft"), home_module)
        folder = dequantize(plan.base)
        tokenizer = load_tokenizer(folder)
        template = chat_template(plan.base, tokenizer, None)
        run_dir = home_module.runs_dir / f"collate-{assistant_only}"
        run_dir.mkdir(parents=True)
        context = RunContext(
            plan, run_dir, tokenizer, Renderer(template, tokenizer), load_model(plan, folder),
            common_args(plan, run_dir),
        )  # fmt: skip
        trainer = build_sft_trainer(context)
        batch = next(iter(trainer.get_train_dataloader()))
        batches[assistant_only] = (batch, Renderer(template, tokenizer), plan.data.examples)
    return batches


def _rows(batch) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) per row, without the padding."""
    rows = []
    for ids, labels, attention in zip(
        batch["input_ids"].tolist(),
        batch["labels"].tolist(),
        batch["attention_mask"].tolist(),
        strict=True,
    ):
        n = sum(attention)
        rows.append((ids[:n], labels[:n]))
    return rows


def test_the_collated_batch_learns_only_the_assistants_tokens(collated):
    batch, renderer, examples = collated[True]
    expected = {tuple(e.input_ids): e.labels() for e in map(renderer.encode, examples)}
    rows = _rows(batch)
    assert len(rows) == 4
    for ids, labels in rows:
        assert labels == expected[tuple(ids)]  # -100 on the system, user and template tokens
        assert -100 in labels and any(label != -100 for label in labels)


def test_without_assistant_only_every_token_is_learned(collated):
    batch, _, _ = collated[False]
    for ids, labels in _rows(batch):
        assert labels == ids

"""The prompt cache in RAM (--cache-ram): more recurring prompts than slots keep their cache."""

from __future__ import annotations

import pytest

from danlu.engine.base import Completion, LoadOptions
from danlu.engine.llamacpp import LlamaCppEngine
from danlu.engine.llamacpp.ramcache import MIB, RamCache
from danlu.engine.sampling import SamplingParams
from danlu.errors import InvalidParameter
from tests.conftest import smollm2_path

GREEDY = SamplingParams(temperature=0, max_tokens=16)


def chat(text: str) -> str:
    return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


# Two prompts that share only the chat header: the one slot loses the first to the second.
FIRST = chat("List three colours of the rainbow, in order, one per line, with no comments.")
SECOND = chat("Name a fruit that is yellow when ripe and long, like a banana or a plantain.")


def saver(data: bytes):
    return lambda: data


# -- the cache's rules, on plain token lists ----------------------------------------------


def test_a_saved_state_comes_back_for_the_prompt_it_serves_and_leaves_the_cache():
    ram = RamCache(1)
    assert ram.save([1, 2, 3, 4], 10, saver(b"a" * 10))
    got = ram.take([1, 2, 3, 4, 5], cached=[1, 9, 9, 9])
    assert got is not None and got.tokens == (1, 2, 3, 4) and got.state == b"a" * 10
    assert len(ram) == 0 and (ram.saves, ram.hits) == (1, 1)


def test_a_state_is_not_taken_unless_it_beats_the_slots_own_cache():
    ram = RamCache(1)
    ram.save([1, 2, 3, 4], 10, saver(b"a" * 10))
    assert ram.take([1, 2, 3, 4, 5], cached=[1, 2, 3, 4, 5, 6]) is None  # the slot has more
    assert ram.take([7, 8], cached=[]) is None  # nothing shared
    assert len(ram) == 1
    ram.save([1, 2, 3, 4, 5], 10, saver(b"b" * 10))
    assert ram.take([1, 5, 5, 5, 5], cached=[]) is None  # keeps 1 of 5: under a quarter


def test_a_prefix_of_a_saved_state_is_not_saved_again_and_a_longer_one_replaces_it():
    ram = RamCache(1)
    ram.save([1, 2, 3, 4], 10, saver(b"a" * 10))
    assert not ram.save([1, 2, 3], 10, saver(b"b" * 10))  # already held
    assert ram.save([1, 2, 3, 4, 5], 12, saver(b"c" * 12))  # the old one is obsolete
    assert len(ram) == 1 and ram.size == 12


def test_the_oldest_states_go_first_when_the_budget_is_full():
    ram = RamCache(1)
    for first in range(3):
        ram.save([first, 0], MIB // 2, saver(bytes(MIB // 2)))
    assert len(ram) == 2 and ram.size <= MIB
    assert ram.take([0, 0], cached=[]) is None  # the oldest was evicted
    assert ram.take([2, 0], cached=[]) is not None


def test_a_state_larger_than_the_budget_is_not_read_at_all():
    def fail() -> bytes:
        raise AssertionError("read although it cannot be kept")

    assert not RamCache(1).save([1, 2], 2 * MIB, fail)


# -- in the engine, one slot and two prompts ------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    eng = LlamaCppEngine(smollm2_path(), LoadOptions(n_ctx=512, threads=2, cache_ram=64))
    yield eng
    eng.close()


def run(engine: LlamaCppEngine, prompt: str) -> Completion:
    return Completion.collect(engine.stream(engine.tokenize(prompt), GREEDY))


def test_a_prompt_that_comes_back_after_another_took_its_slot_is_restored(engine):
    engine.reset()
    first = run(engine, FIRST)
    run(engine, SECOND)  # the one slot now holds the second prompt; the first went to RAM
    again = run(engine, FIRST)
    assert again.usage.cached_tokens == first.usage.prompt_tokens - 1
    assert again.token_ids == first.token_ids
    assert engine.scheduler.ram is not None and engine.scheduler.ram.hits == 1


def test_reset_empties_the_ram_cache_too(engine):
    engine.reset()
    first = run(engine, FIRST)
    run(engine, SECOND)
    engine.reset()
    again = run(engine, FIRST)
    assert again.usage.cached_tokens == 0
    assert again.token_ids == first.token_ids


def test_without_a_ram_cache_the_returning_prompt_is_processed_again():
    eng = LlamaCppEngine(smollm2_path(), LoadOptions(n_ctx=512, threads=2, cache_ram=0))
    try:
        first = run(eng, FIRST)
        run(eng, SECOND)
        again = run(eng, FIRST)
    finally:
        eng.close()
    assert eng.scheduler.ram is None
    assert again.usage.cached_tokens < first.usage.prompt_tokens // 2  # the header only
    assert eng.facts["cache_ram"] == "off"


def test_a_negative_budget_is_refused_with_the_fields_name():
    with pytest.raises(InvalidParameter, match="cache_ram"):
        LoadOptions.build(cache_ram=-1)

"""`danlu run`'s llama.cpp flags: -p, the raw interactive mode (-r, --in-prefix,
--in-suffix, --interactive-first), grammars, --prompt-cache and the engine knobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from danlu.engine.llamacpp.machine import repack_rule, system_info
from danlu.system import cpu
from tests.near_ties import assert_same_up_to_a_near_tie

GREEDY = ("--temp", "0", "-n", "16")
# the session `model` fixture's context and threads, so greedy answers can be compared
SAME_LOAD = ("-c", "2048", "-t", "2")
STORY = "Once upon a time, in a small village by the sea, there lived"
SYSTEM = "You are a careful assistant. " * 12  # a long fixed system prompt worth caching
SMALL = ("-c", "512")  # a small context loads faster; the prompts fit


def test_prompt_flag_is_the_prompt(danlu):
    as_flag = danlu("run", "smollm2", "-p", "Say hello.", *GREEDY)
    as_argument = danlu("run", "smollm2", "Say hello.", *GREEDY)
    assert as_flag.code == 0, as_flag.err
    assert as_flag.out == as_argument.out
    both = danlu("run", "smollm2", "Say hello.", "-p", "Say hi.")
    assert both.code == 1 and "two prompts" in both.err


def test_reverse_prompt_stops_and_hands_the_turn_back(danlu, model):
    model.engine.reset()
    continuation = model.generate(STORY, temperature=0, max_tokens=24).text
    reverse = continuation.split()[3]  # a word the model is sure to write
    end = continuation.index(reverse) + len(reverse)
    result = danlu(
        "run",
        "smollm2",
        "-p",
        STORY,
        "-r",
        reverse,
        "--in-prefix",
        "[you]",
        *GREEDY[:2],
        *SAME_LOAD,
    )
    assert result.code == 0, result.err
    # the prompt, the model's text up to and including the reverse prompt, then the
    # user's turn (the in-prefix); stdin is empty, so the session ends there
    assert result.out.startswith(STORY + continuation[:end])
    assert result.out.rstrip("\n").endswith("[you]")
    assert continuation[end:].strip() and continuation[end:] not in result.out


def test_interactive_first_waits_for_the_user(danlu, model):
    result = danlu(
        "run",
        "smollm2",
        "-p",
        "A chat.\n",
        "--interactive-first",
        "--in-prefix",
        "User: ",
        "--in-suffix",
        "Bot:",
        "--temp",
        "0",
        "-n",
        "4",
        *SAME_LOAD,
        stdin="Hello there\n",
    )
    assert result.code == 0, result.err
    # the model writes nothing before the user's line, then continues the text with it
    model.engine.reset()
    answer = model.generate("A chat.\nUser: Hello there\nBot:", temperature=0, max_tokens=4)
    assert answer.text and answer.usage.completion_tokens == 4
    # the prompt; the user's turn framed by prefix and suffix (the typed line is not echoed:
    # stdin is a pipe); the answer to it; the next turn's prefix, where stdin ends
    assert result.out == "A chat.\nUser: Bot:" + answer.text + "User: \n"


def test_raw_mode_that_outgrows_the_context_ends_with_one_line(danlu, model):
    """A 64-token context: the first answer fills it (end of text ignored), so the user's
    next line no longer fits. There is no context shifting: one line, exit 1."""
    line = "What happened next to the fisherman and his boat?"
    result = danlu(
        "run",
        "smollm2",
        "-p",
        "Once upon a time",
        "-i",
        "--ignore-eos",
        "--temp",
        "0",
        "-c",
        "64",
        "-t",
        "2",
        stdin=f"{line}\nnever read\n",
    )
    assert result.code == 1
    assert result.out.startswith("Once upon a time") and len(result.out) > 64  # it answered
    text = result.out + line + "\n"  # everything the model was to read next
    needed = len(model.engine.tokenize(text, add_bos=True))
    assert needed > 64
    assert result.err == (
        f"error: the prompt has {needed} tokens but the context holds 64 "
        "(shorten the input or raise the context length)\n"
    )


def test_grammar_constrains_the_output(danlu):
    gbnf = 'root ::= "red" | "green" | "blue"'
    for seed in ("1", "2", "3"):
        result = danlu("run", "smollm2", "Name a colour.", "--grammar", gbnf, "-s", seed)
        assert result.code == 0, result.err
        assert result.out.strip() in {"red", "green", "blue"}


def test_grammar_file_and_json_schema(danlu, tmp_path):
    grammar = tmp_path / "yes.gbnf"
    grammar.write_text('root ::= "yes" | "no"\n', encoding="utf-8")
    result = danlu("run", "smollm2", "Is the sea wet?", "--grammar-file", str(grammar))
    assert result.out.strip() in {"yes", "no"}
    schema = '{"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}'
    result = danlu("run", "smollm2", "Give a number.", "-j", schema, "--temp", "0", "-n", "48")
    assert result.code == 0, result.err
    assert isinstance(json.loads(result.out)["n"], int)


def test_two_grammars_and_a_bad_schema_are_refused(danlu):
    both = danlu("run", "smollm2", "hi", "--grammar", 'root ::= "a"', "-j", "{}")
    assert both.code == 1 and "--grammar and --json-schema" in both.err
    bad = danlu("run", "smollm2", "hi", "-j", "{not json")
    assert bad.code == 1 and "--json-schema is not JSON" in bad.err
    assert bad.err.count("\n") == 1


def cached_run(danlu, cache: Path, question: str, *flags: str) -> dict:
    result = danlu(
        "run",
        "smollm2",
        question,
        "--system",
        SYSTEM,
        "--prompt-cache",
        str(cache),
        "--json",
        *GREEDY,
        *SMALL,
        *flags,
    )
    assert result.code == 0, result.err
    return {**json.loads(result.out), "err": result.err}


def saved_tokens(cache: Path) -> list[int]:
    """The tokens a prompt-cache file says its state holds (its JSON header line)."""
    return json.loads(cache.read_bytes().split(b"\n", 2)[1])["tokens"]


def chat_tokens(model, question: str, system: str | None = SYSTEM) -> list[int]:
    said = [{"role": "system", "content": system}] if system else []
    return model.prepare_chat([*said, {"role": "user", "content": question}]).tokens


def test_prompt_cache_is_written_reused_and_refused_when_stale(danlu, model, tmp_path):
    cache = tmp_path / "system.cache"
    first = cached_run(danlu, cache, "What is the sea?")
    assert first["usage"]["cached_tokens"] == 0 and "is new" in first["err"]
    sea = chat_tokens(model, "What is the sea?")
    assert saved_tokens(cache) == sea  # the prompt, without its answer
    again = cached_run(danlu, cache, "What is the sky?")  # same system, another question
    sky = chat_tokens(model, "What is the sky?")
    shared = next(i for i, (a, b) in enumerate(zip(sea, sky, strict=False)) if a != b)
    assert shared > len(SYSTEM.split())  # the system prompt, at least
    assert f"{shared} prompt tokens restored" in again["err"]
    assert again["usage"] == {
        "prompt_tokens": len(sky),
        "completion_tokens": again["usage"]["completion_tokens"],
        "cached_tokens": shared,
        "total_tokens": len(sky) + again["usage"]["completion_tokens"],
    }
    assert saved_tokens(cache) == sky  # a partial match is saved afresh
    # the restored state answers as a fresh run does (up to a near-tie: the cached prefix
    # was computed in another batch shape)
    fresh = danlu(
        "run", "smollm2", "What is the sky?", "--system", SYSTEM, "--json", *GREEDY, *SMALL
    )
    assert fresh.code == 0, fresh.err
    fresh_answer = json.loads(fresh.out)["response"]
    assert_same_up_to_a_near_tie(model, sky, fresh_answer, again["response"])
    stale = danlu(
        "run", "smollm2", "Hi", "--prompt-cache", str(cache), "--json", *GREEDY, *SMALL
    )  # the template's own short system prompt: little in common
    assert stale.code == 0, stale.err
    assert "stale" in stale.err
    assert json.loads(stale.out)["usage"]["cached_tokens"] == 0
    assert saved_tokens(cache) == chat_tokens(model, "Hi", system=None)  # rewritten


def test_prompt_cache_from_another_model_or_cache_type_is_refused(danlu, tmp_path):
    cache = tmp_path / "system.cache"
    cached_run(danlu, cache, "What is the sea?")
    quantized = danlu(
        "run", "smollm2", "hi", "--prompt-cache", str(cache), "-fa", "on", "-ctk", "q8_0"
    )
    assert quantized.code == 1
    assert "cache_type_k=f16, not cache_type_k=q8_0" in quantized.err
    magic, header, state = cache.read_bytes().split(b"\n", 2)
    meta = json.loads(header)
    cache.write_bytes(
        magic + b"\n" + json.dumps({**meta, "sha256": "0" * 64}).encode() + b"\n" + state
    )
    before = cache.read_bytes()
    foreign = danlu("run", "smollm2", "hi", "--prompt-cache", str(cache))
    assert foreign.code == 1 and foreign.err.count("\n") == 1
    assert "was made with sha256=000" in foreign.err
    assert cache.read_bytes() == before  # a refused file is left as it was
    junk = tmp_path / "junk.cache"
    junk.write_text("hello", encoding="utf-8")
    result = danlu("run", "smollm2", "hi", "--prompt-cache", str(junk))
    assert result.code == 1 and "not a danlu prompt cache" in result.err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("-ctk", "q3"), "invalid cache_type_k='q3'"),
        (("-b", "-1"), "invalid n_batch=-1"),
        (("-ctv", "q8_0", "-fa", "off"), "needs flash attention"),
        (("-fa", "sometimes"), "invalid flash_attn='sometimes'"),
        (("--cache-ram", "-5"), "invalid cache_ram=-5"),
    ],
)
def test_bad_engine_flags_are_one_line(danlu, flags, message):
    result = danlu("run", "smollm2", "hi", *flags)
    assert result.code == 1
    assert message in result.err
    assert result.err.count("\n") == 1


def test_verbose_shows_the_engine_settings_in_effect(danlu):
    flags = ("-fa", "on", "-ctk", "q8_0", "-cram", "16")
    result = danlu("run", "smollm2", "hi", "-v", *flags, "-n", "2")
    assert result.code == 0, result.err
    line = next(x for x in result.err.splitlines() if x.startswith("engine:"))
    assert "flash_attn=on" in line and "cache_type_k=q8_0" in line
    assert "cache_ram=16 MiB" in line
    # the defaults this load took, each with its reason: only repack (-fa was given)
    reasons = [x.strip() for x in result.err.splitlines() if x.startswith("  ")]
    repack, why = repack_rule(cpu(), system_info())
    assert reasons == [f"repack {'on' if repack else 'off'}: {why}"]
    assert f"repack={'on' if repack else 'off'}" in line
    forced = danlu("run", "smollm2", "hi", "-v", "--no-repack", "-fa", "off", "-n", "2")
    line = next(x for x in forced.err.splitlines() if x.startswith("engine:"))
    assert "repack=off, repacked=none" in line and "flash_attn=off," in line
    assert not any(x.startswith("  ") for x in forced.err.splitlines())  # nothing defaulted


def test_show_says_why_flash_attention_and_repack_are_what_they_are(danlu):
    result = danlu("show", "smollm2")
    assert result.code == 0
    row = next(x for x in result.out.splitlines() if "flash attention" in x)
    assert "auto: llama.cpp's own default" in row and "danlu bench" in row
    row = next(x for x in result.out.splitlines() if x.strip().startswith("repack"))
    repack, why = repack_rule(cpu(), system_info())
    assert row.split(None, 1)[1] == f"{'on' if repack else 'off'}: {why}"

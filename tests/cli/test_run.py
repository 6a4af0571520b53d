"""`danlu run` one-shot, in process, on the real model."""

from __future__ import annotations

import json

GREEDY = ("--temp", "0", "-n", "16")


def test_one_shot_prints_the_answer(danlu):
    result = danlu("run", "smollm2", "Say hello.", *GREEDY)
    assert result.code == 0, result.err
    assert result.out.strip()
    again = danlu("run", "smollm2", "Say hello.", *GREEDY)
    assert again.out == result.out  # greedy: the same answer twice


def test_json_output_has_counts_and_speed(danlu):
    result = danlu("run", "smollm2", "Count: 1, 2, 3", "--json", "--temp", "0", "-n", "4")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["model"] == "smollm2"
    assert data["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 4
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + 4
    assert data["timing"]["generation_tokens_per_second"] > 0


# the session `model` fixture's context and threads, so greedy answers can be compared
SAME_LOAD = ("-c", "2048", "-t", "2")


def greedy_chat(model, messages: list[dict[str, str]]):
    """What `danlu run --json ... GREEDY` must answer when it sends exactly `messages`.

    The cache is emptied first, as in a fresh `danlu run`: llama.cpp's greedy pick can
    change with how much of the prompt comes from the prefix cache."""
    model.engine.reset()
    return model.chat(messages, temperature=0, max_tokens=16)


def test_piped_stdin_is_joined_before_the_prompt(danlu, model):
    piped = danlu(
        "run",
        "smollm2",
        "Repeat the code word.",
        "--json",
        *GREEDY,
        *SAME_LOAD,
        stdin="The code word is PINEAPPLE.\n",
    )
    got = json.loads(piped.out)
    joined = "The code word is PINEAPPLE.\n\nRepeat the code word."
    expected = greedy_chat(model, [{"role": "user", "content": joined}])
    assert got["usage"]["prompt_tokens"] == expected.usage.prompt_tokens
    assert got["response"] == expected.text
    swapped = "Repeat the code word.\n\nThe code word is PINEAPPLE."
    assert greedy_chat(model, [{"role": "user", "content": swapped}]).text != expected.text


def test_prompt_file(danlu, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Say hello.", encoding="utf-8")
    from_file = danlu("run", "smollm2", "-f", str(prompt), *GREEDY)
    inline = danlu("run", "smollm2", "Say hello.", *GREEDY)
    assert from_file.code == 0
    assert from_file.out == inline.out


def test_system_prompt_replaces_the_templates_own(danlu, model):
    system = ("--system", "Answer in French.")
    told = danlu("run", "smollm2", "Hi", "--json", *system, *GREEDY, *SAME_LOAD)
    got = json.loads(told.out)
    messages = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hi"},
    ]
    expected = greedy_chat(model, messages)
    assert got["usage"]["prompt_tokens"] == expected.usage.prompt_tokens
    assert got["response"] == expected.text
    plain = greedy_chat(model, [{"role": "user", "content": "Hi"}])  # SmolLM's own system
    assert plain.usage.prompt_tokens != expected.usage.prompt_tokens
    assert plain.text != expected.text


def test_stop_flag(danlu):
    full = danlu("run", "smollm2", "List the days of the week.", *GREEDY).out
    word = full.split()[2]
    cut = json.loads(
        danlu("run", "smollm2", "List the days of the week.", "--json", "--stop", word, *GREEDY).out
    )
    assert cut["finish_reason"] == "stop"
    assert word not in cut["response"]


def test_unknown_model_suggests_close_names(danlu):
    result = danlu("run", "smollm", "hi")
    assert result.code == 1
    assert result.err.count("\n") == 1  # one line, no traceback
    assert "smollm2" in result.err and "Traceback" not in result.err


def test_invalid_parameter_is_one_line(danlu):
    result = danlu("run", "smollm2", "hi", "--temp", "-1")
    assert result.code == 1
    assert result.err.startswith("error: invalid temperature=-1")
    assert result.err.count("\n") == 1


def test_prompt_longer_than_context(danlu):
    result = danlu("run", "smollm2", "word " * 400, "-c", "128")
    assert result.code == 1
    assert "context" in result.err and "Traceback" not in result.err
    assert result.err.count("\n") == 1


def test_no_prompt_and_no_terminal_is_an_error(danlu):
    result = danlu("run", "smollm2")
    assert result.code == 1
    assert "no prompt" in result.err


def test_unreadable_prompt_file(danlu, tmp_path):
    result = danlu("run", "smollm2", "-f", str(tmp_path / "missing.txt"))
    assert result.code == 1
    assert "cannot read prompt file" in result.err


def test_run_on_a_damaged_model_file_is_one_clear_line(danlu, damaged_model):
    result = danlu("run", damaged_model, "hi")
    assert result.code == 1
    assert result.err.startswith("error: llama.cpp could not load")
    assert "re-import or re-pull it" in result.err
    assert result.err.count("\n") == 1

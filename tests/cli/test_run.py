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


def test_piped_stdin_is_joined_before_the_prompt(danlu):
    piped = danlu(
        "run",
        "smollm2",
        "Repeat the code word.",
        "--json",
        *GREEDY,
        stdin="The code word is PINEAPPLE.\n",
    )
    alone = danlu("run", "smollm2", "Repeat the code word.", "--json", *GREEDY)
    p, a = json.loads(piped.out), json.loads(alone.out)
    assert p["usage"]["prompt_tokens"] > a["usage"]["prompt_tokens"]


def test_prompt_file(danlu, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Say hello.", encoding="utf-8")
    from_file = danlu("run", "smollm2", "-f", str(prompt), *GREEDY)
    inline = danlu("run", "smollm2", "Say hello.", *GREEDY)
    assert from_file.code == 0
    assert from_file.out == inline.out


def test_system_prompt_changes_the_prompt(danlu):
    plain = json.loads(danlu("run", "smollm2", "Hi", "--json", *GREEDY).out)
    system = json.loads(
        danlu("run", "smollm2", "Hi", "--json", "--system", "Answer in French.", *GREEDY).out
    )
    assert plain["usage"]["prompt_tokens"] != system["usage"]["prompt_tokens"]


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

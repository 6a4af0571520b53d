"""`danlu prompt` and `danlu run --use-prompt`: the prompt library from the command line."""

from __future__ import annotations

import json

from danlu.store.modelfile import parse_modelfile
from tests.cli.terminal import ask

TRANSLATOR_FRENCH = (
    "In the context of everyday writing, you are a careful translator. Translate the user's "
    "text into French. Keep the meaning, the tone and the formatting; leave names, code and "
    "numbers as they are. Reply with the translation only."
)


def prompt_tokens(danlu, *args: str) -> int:
    """How many tokens `danlu run ... --json` sent the model."""
    result = danlu("run", "smollm2", *args, "-n", "1", "--temp", "0", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)["usage"]["prompt_tokens"]


def sent(model, system: str, user: str) -> int:
    turns = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return len(model.prepare_chat(turns).tokens)


def test_variables_are_filled_into_what_the_model_sees(danlu, model):
    shown = danlu("prompt", "show", "translator", "--var", "target=French")
    assert shown.code == 0 and TRANSLATOR_FRENCH in shown.out
    used = prompt_tokens(
        danlu, "Good morning.", "--use-prompt", "translator", "--var", "target=French"
    )
    assert used == sent(model, TRANSLATOR_FRENCH, "Good morning.")
    german = TRANSLATOR_FRENCH.replace("French", "German, formally")
    used = prompt_tokens(
        danlu, "Good morning.", "--use-prompt", "translator", "--var", "target=German, formally"
    )
    assert used == sent(model, german, "Good morning.")


def test_the_user_template_wraps_the_message(danlu, model):
    system = danlu("prompt", "show", "summariser", "--var", "sentences=2").out
    system = system.split("rendered system prompt:\n")[1].split("\n\nrendered user")[0]
    used = prompt_tokens(danlu, "Rain fell.", "--use-prompt", "summariser", "--var", "sentences=2")
    assert used == sent(model, system, "Summarise this:\n\nRain fell.")


def test_a_missing_variable_is_one_line_naming_it(danlu):
    result = danlu("run", "smollm2", "Hello.", "--use-prompt", "translator")
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        "error: prompt 'translator' needs the variable 'target' (give it with --var target=VALUE)"
    ]
    unknown = danlu("run", "smollm2", "Hi.", "--use-prompt", "translator", "--var", "tongue=x")
    assert unknown.code == 1 and "has no variable 'tongue'" in unknown.err
    assert "Traceback" not in result.err + unknown.err


def test_use_prompt_with_system_puts_the_prompts_system_first(danlu, model):
    used = prompt_tokens(
        danlu,
        "Good morning.",
        "--use-prompt",
        "translator",
        "--var",
        "target=French",
        "--system",
        "Use informal French.",
    )
    assert used == sent(model, TRANSLATOR_FRENCH + "\n\nUse informal French.", "Good morning.")


def test_add_show_rm_round_trip(danlu, danlu_home):
    added = danlu(
        "prompt",
        "add",
        "haiku",
        "--system",
        "In the context of {{ season }}, answer in a haiku.",
        "--default",
        "season=autumn",
        "--set",
        "temperature=0.4",
        "--model",
        "smollm2",
        "-d",
        "Answers as a haiku.",
    )
    assert added.code == 0, added.err
    assert (danlu_home / "prompts" / "haiku.json").is_file()
    stored = json.loads(danlu("prompt", "show", "haiku", "--json").out)
    assert stored["system"] == "In the context of {{ season }}, answer in a haiku."
    assert stored["defaults"] == {"season": "autumn"} and stored["sampling"] == {"temperature": 0.4}
    listed = json.loads(danlu("prompt", "list", "--json").out)
    assert {"haiku": "user", "translator": "builtin"}.items() <= {
        p["name"]: p["source"] for p in listed
    }.items()
    again = danlu("prompt", "add", "haiku", "--system", "x")
    assert again.code == 1 and "already exists" in again.err
    assert danlu("prompt", "rm", "haiku").code == 0
    gone = danlu("prompt", "show", "haiku")
    assert gone.code == 1 and "no prompt named 'haiku'" in gone.err
    builtin = danlu("prompt", "rm", "translator")
    assert builtin.code == 1 and "built-in" in builtin.err


def test_bad_names_and_settings_are_clear_errors(danlu):
    for name in ("bad name", "../up", "_hidden", "x" * 65, ""):
        result = danlu("prompt", "add", name, "--system", "x")
        assert result.code == 1, name
        assert f"invalid prompt name '{name}'" in result.err
    typo = danlu("prompt", "add", "ok", "--set", "temprature=1")
    assert typo.code == 1 and "unknown parameter 'temprature'" in typo.err
    broken = danlu("prompt", "add", "ok", "--system", "{{ unclosed")
    assert broken.code == 1 and "not a valid Jinja template" in broken.err
    assert "Traceback" not in typo.err + broken.err


def test_csv_import_brings_in_the_rows(danlu, tmp_path):
    csv = tmp_path / "prompts.csv"
    csv.write_text(
        "act,prompt\n"
        '"Linux Terminal","I want you to act as a terminal. Reply with {{ output }} only."\n'
        '"Travel Guide","Suggest places near me, one per line."\n'
        '"旅行向导","请推荐我附近值得去的地方。"\n'
        '"Empty",""\n',
        encoding="utf-8",
    )
    result = danlu("prompt", "import", str(csv))
    assert result.code == 0, result.err
    assert "imported 3 prompt(s)" in result.out and "skipped line 5" in result.out
    names = {p["name"] for p in json.loads(danlu("prompt", "list", "--json").out)}
    assert {"linux-terminal", "travel-guide", "旅行向导"} <= names
    shown = danlu("prompt", "show", "linux-terminal", "--var", "x=1")
    assert shown.code == 1 and "has no variable 'x'" in shown.err  # plain text: no variables
    rendered = danlu("prompt", "show", "linux-terminal", "--modelfile").out
    assert "Reply with {{ output }} only." in parse_modelfile(rendered).system
    twice = danlu("prompt", "import", str(csv))
    assert "imported 0 prompt(s)" in twice.out and "'travel-guide' already exists" in twice.out


def test_a_prompt_becomes_a_modelfile_that_create_reads(danlu, tmp_path):
    text = danlu("prompt", "show", "translator", "--modelfile", "--var", "target=French").out
    mf = parse_modelfile(text)
    assert mf.base == "smollm2" and mf.system == TRANSLATOR_FRENCH
    assert mf.parameters == {"temperature": 0.2}
    path = tmp_path / "Modelfile"
    path.write_text(text, encoding="utf-8")
    created = danlu("create", "french", "-f", str(path))
    assert created.code == 0, created.err
    shown = danlu("show", "french", "--json")
    assert json.loads(shown.out)["system"] == TRANSLATOR_FRENCH


def test_prompt_in_the_chat(chat):
    child = chat("--temp", "0", "-n", "4", "--system", "Be brief.")
    assert "needs the variable 'target'" in ask(child, "/prompt translator")
    assert "using prompt 'translator'" in ask(child, "/prompt translator target=French")
    shown = ask(child, "/show").replace("\r\n", " ")
    assert "into French." in shown and "Be brief." in shown and "temperature = 0.2" in shown
    assert "no prompt named 'nope'" in ask(child, "/prompt nope")
    assert "prompt cleared" in ask(child, "/prompt off")
    assert "French" not in ask(child, "/show")


def test_prompt_in_the_chat_replaces_the_use_prompt_and_keeps_system(chat):
    flags = ["--use-prompt", "translator", "--var", "target=French", "--system", "Be brief."]
    child = chat("--temp", "0", "-n", "4", *flags)
    shown = ask(child, "/show").replace("\r\n", " ")
    assert "into French." in shown and "Be brief." in shown
    assert "using prompt 'summariser'" in ask(child, "/prompt summariser")
    shown = ask(child, "/show").replace("\r\n", " ")
    assert "summarise the text" in shown and "Be brief." in shown
    assert "translator" not in shown
    assert "prompt cleared" in ask(child, "/prompt off")
    shown = ask(child, "/show").replace("\r\n", " ")
    assert "system: Be brief." in shown and "summarise" not in shown

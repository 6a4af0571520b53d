"""`danlu prompt list | show | add | rm | import`: the prompt library (danlu/prompts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from danlu.cli.group import command_group
from danlu.config import Settings
from danlu.prompts import Prompt, PromptLibrary, parse_assignments, to_modelfile

Opt = typer.Option
AsJson = Annotated[bool, Opt("--json", help="Print JSON.")]
Name = Annotated[str, typer.Argument(help="The prompt's name.")]
Vars = Annotated[
    list[str] | None, Opt("--var", help="key=value for one of the prompt's variables.")
]


def _library() -> PromptLibrary:
    return PromptLibrary(Settings().prompts_dir)


def list_prompts(as_json: AsJson = False) -> int:
    """List the prompts: danlu's built-ins and your own (DANLU_HOME/prompts)."""
    entries = _library().entries()
    if as_json:
        rows = [{**e.prompt.model_dump(), "source": e.source} for e in entries]
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    table = Table(box=None)
    for column in ("NAME", "SOURCE", "NEEDS"):
        table.add_column(column, no_wrap=True)
    table.add_column("DESCRIPTION", overflow="fold")
    for e in entries:
        needs = ", ".join(e.prompt.required()) or "-"
        table.add_row(e.prompt.name, e.source, needs, e.prompt.description)
    Console(soft_wrap=True).print(table)
    return 0


def show(
    name: Name,
    var: Vars = None,
    modelfile: Annotated[
        bool, Opt("--modelfile", help="Print it as an Ollama Modelfile (for danlu create).")
    ] = False,
    base: Annotated[
        str | None,
        Opt("--from", help="The Modelfile's FROM (default: the prompt's model, else the default)."),
    ] = None,
    as_json: AsJson = False,
) -> int:
    """A prompt's templates, variables and settings; with --var, the text it renders to."""
    prompt = _library().get(name)
    values = parse_assignments(var or ())
    if modelfile:
        model = base or prompt.model or Settings().default_model
        print(to_modelfile(prompt, values, model), end="")
        return 0
    if as_json:
        print(json.dumps(prompt.model_dump(), ensure_ascii=False, indent=2))
        return 0
    _print_prompt(prompt)
    if var:
        rendered = prompt.render(values, "{input}" if prompt.user else None)
        print(f"\nrendered system prompt:\n{rendered.system or '(none)'}")
        if prompt.user:
            print(f"\nrendered user message:\n{rendered.user}")
    return 0


def _print_prompt(prompt: Prompt) -> None:
    print(f"prompt: {prompt.name}" + (f" — {prompt.description}" if prompt.description else ""))
    for variable in prompt.variables():
        default = prompt.defaults.get(variable)
        print(f"  var {variable}" + (f" = {default!r}" if default is not None else " (required)"))
    if prompt.model:
        print(f"  model: {prompt.model}")
    for key, value in prompt.sampling.items():
        print(f"  {key} = {value!r}")
    print(f"\nsystem:\n{prompt.system or '(none)'}")
    if prompt.user:
        print(f"\nuser:\n{prompt.user}")


def add(
    name: Name,
    system: Annotated[
        str | None, Opt("--system", help="Jinja template of the system prompt.")
    ] = None,
    user: Annotated[
        str | None, Opt("--user", help="Jinja template of each message; {{ input }} is the text.")
    ] = None,
    description: Annotated[str, Opt("--description", "-d", help="What it is for.")] = "",
    default: Annotated[
        list[str] | None, Opt("--default", help="key=value: a variable's default.")
    ] = None,
    model: Annotated[str | None, Opt("--model", help="The model it suits.")] = None,
    setting: Annotated[
        list[str] | None, Opt("--set", help="key=value: a suggested sampling setting.")
    ] = None,
    force: Annotated[bool, Opt("--force", help="Replace a prompt of that name.")] = False,
) -> int:
    """Save a prompt under DANLU_HOME/prompts (a built-in's name stands in for it)."""
    prompt = Prompt(
        name=name,
        description=description,
        system=system,
        user=user,
        defaults=parse_assignments(default or (), "--default"),
        model=model,
        sampling=parse_assignments(setting or (), "--set"),
    )
    path = _library().add(prompt, replace=force)
    print(f"saved prompt '{name}' to {path}")
    return 0


def remove(name: Name) -> int:
    """Delete one of your prompts."""
    _library().remove(name)
    print(f"removed prompt '{name}'")
    return 0


def import_csv(
    file: Annotated[Path, typer.Argument(help="A CSV file with act,prompt columns.")],
    force: Annotated[bool, Opt("--force", help="Replace prompts of the same names.")] = False,
) -> int:
    """Import one prompt per row of a CSV with act,prompt columns (the act names it)."""
    done = _library().import_csv(file, replace=force)
    print(f"imported {len(done.added)} prompt(s) from {file}")
    for line, reason in done.skipped:
        print(f"  skipped line {line}: {reason}")
    return 0


def group() -> typer.Typer:
    """The `danlu prompt` sub-command group."""
    commands = {"list": list_prompts, "show": show, "add": add, "rm": remove}
    return command_group(
        "prompt",
        "The prompt library: named prompts with variables (docs/prompts.md).",
        commands | {"import": import_csv},
    )

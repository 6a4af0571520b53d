"""Options generated from a settings class: one per field, its doc as help, and only the
values given handed on, so the class's own defaults are the only ones."""

from __future__ import annotations

import pytest
import typer
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from danlu.cli.settings_flags import from_settings
from danlu.errors import InvalidRequest


class Knobs(BaseModel):
    """A stand-in settings class."""

    sizes: list[int] = Field([512], description="Sizes to try.")
    switches: list[bool | None] = Field([None], description="On or off.")
    label: str | None = Field(None, description="A name.")
    verbose: bool = Field(False, description="Say more.")
    skipped: int = Field(7, description="Not an option.")


def _app(seen: list) -> typer.Typer:
    @from_settings(Knobs, "knobs", skip={"skipped"}, flags={"sizes": ("-s", "--sizes")})
    def command(knobs: dict | None = None) -> None:
        seen.append(Knobs(**(knobs or {})))

    app = typer.Typer()
    app.command()(command)
    app.command("other")(lambda: None)  # two commands: typer then needs the name
    return app


def test_only_the_options_given_reach_the_command_and_the_rest_keep_the_class_defaults():
    seen: list[Knobs] = []
    runner = CliRunner()
    assert runner.invoke(_app(seen), ["command"]).exit_code == 0
    assert seen[-1] == Knobs()
    given = ["command", "-s", "1,2", "--switches", "on,off", "--verbose", "--label", "x"]
    assert runner.invoke(_app(seen), given).exit_code == 0
    assert seen[-1] == Knobs(sizes=[1, 2], switches=[True, False], verbose=True, label="x")
    shown = runner.invoke(_app(seen), ["command", "--help"], env={"COLUMNS": "200"}).output
    assert "Sizes to try. (default: 512)" in shown and "--no-verbose" in shown
    (label,) = [line for line in shown.splitlines() if "--label" in line]
    assert "A name." in label and "default" not in label  # None: nothing to show
    assert "skipped" not in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "two"], "-s takes comma-separated integers, not 'two'"),
        (["--switches", "maybe"], "--switches takes on, off or both (on,off), not 'maybe'"),
    ],
)
def test_a_list_that_does_not_parse_is_one_typed_error(args, message):
    result = CliRunner().invoke(_app([]), ["command", *args])
    assert isinstance(result.exception, InvalidRequest) and str(result.exception) == message

"""Python functions as tools: schemas from signatures and docstrings, `module:function`."""

from __future__ import annotations

import sys
from typing import Literal

import pytest

from danlu.agent.functions import function_spec, function_tool, import_function
from danlu.agent.registry import open_tools
from danlu.errors import InvalidParameter


def forecast(city: str, days: int = 3, unit: Literal["c", "f"] = "c", hourly: bool = False,
             tags: list[str] | None = None) -> dict:  # fmt: skip
    """Forecast the weather.

    More words that are not the summary.

    Args:
        city: The city's name.
        days: How many days ahead,
            from 1 to 7.
        unit: c or f.

    Returns:
        The forecast.
    """
    return {"city": city, "days": days}


def numpy_style(x: float, y: float) -> float:
    """Add two numbers.

    Parameters
    ----------
    x : float
        The first.
    y : float
        The second.

    Returns
    -------
    float
    """
    return x + y


def test_a_google_docstring_and_annotations_make_the_schema():
    spec = function_spec(forecast)
    assert spec.name == "forecast" and spec.description == "Forecast the weather."
    props = spec.parameters["properties"]
    assert props["city"] == {"type": "string", "description": "The city's name."}
    assert props["days"] == {"type": "integer", "description": "How many days ahead, from 1 to 7."}
    assert props["unit"] == {"enum": ["c", "f"], "description": "c or f."}
    assert props["hourly"] == {"type": "boolean"}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert spec.parameters["required"] == ["city"]


def test_a_numpy_docstring_describes_the_parameters():
    spec = function_spec(numpy_style)
    assert spec.description == "Add two numbers."
    assert spec.parameters["properties"]["x"] == {"type": "number", "description": "The first."}
    assert spec.parameters["properties"]["y"]["description"] == "The second."


def test_a_function_tool_returns_text():
    tool = function_tool(forecast)
    assert tool.run({"city": "Oslo"}) == '{"city": "Oslo", "days": 3}'
    assert tool.source == "python"


def test_module_function_specs_import_from_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "agent_tools_x.py").write_text("def ping() -> str:\n    return 'pong'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert import_function("agent_tools_x:ping")() == "pong"
    for bad, message in [
        ("agent_tools_x", "not a module:function"),
        ("agent_tools_x:nope", "has no function nope"),
        ("no_such_module_q:f", "cannot import no_such_module_q"),
    ]:
        with pytest.raises(InvalidParameter, match=message):
            import_function(bad)


def test_the_registry_refuses_an_unknown_kind_and_a_repeated_name():
    unknown = pytest.raises(InvalidParameter, match="unknown tool source 'web'")
    with unknown, open_tools([("web", "x")]):
        pass
    repeated = pytest.raises(InvalidParameter, match="share the name forecast")
    with repeated, open_tools([("function", forecast), ("function", forecast)]):
        pass

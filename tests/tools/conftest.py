"""Tool definitions shared by the tool-calling tests."""

from __future__ import annotations

import pytest

from danlu.chat.tools import ToolSpec, tool_specs
from tests.tools.specs import CLOCK, WEATHER


@pytest.fixture
def tools() -> list[ToolSpec]:
    return tool_specs([WEATHER, CLOCK])

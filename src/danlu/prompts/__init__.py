"""The prompt library: named Jinja prompts with variables and suggested settings.

Built-ins ship with danlu (English and Chinese); the user's own live under
DANLU_HOME/prompts. docs/prompts.md.
"""

from __future__ import annotations

from danlu.prompts.library import Entry, Imported, PromptLibrary
from danlu.prompts.modelfile import to_modelfile
from danlu.prompts.prompt import (
    Filled,
    Prompt,
    Rendered,
    check_name,
    combine_system,
    parse_assignments,
)

__all__ = [
    "Entry",
    "Filled",
    "Imported",
    "Prompt",
    "PromptLibrary",
    "Rendered",
    "check_name",
    "combine_system",
    "parse_assignments",
    "to_modelfile",
]

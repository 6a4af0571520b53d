"""The choices the page's pickers offer, read fresh from DANLU_HOME each time."""

from __future__ import annotations

from danlu.config import Settings
from danlu.errors import MissingExtra

NONE = "(none)"


def model_names(settings: Settings) -> list[str]:
    from danlu.store import Catalog

    return [m.name for m in Catalog(settings).list().models]


def kb_names(settings: Settings) -> list[str]:
    try:
        import danlu.kb
    except (ImportError, MissingExtra):  # without the kb extra there are none to pick
        return []
    return danlu.kb.list_names(settings)


def session_names(settings: Settings) -> list[str]:
    folder = settings.sessions_dir
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def run_ids(settings: Settings) -> list[str]:
    from danlu.train.runs import list_runs

    return [r.id for r in list_runs(settings)]


def prompt_names(settings: Settings) -> list[str]:
    from danlu.prompts import PromptLibrary

    return [e.prompt.name for e in PromptLibrary(settings.prompts_dir).entries()]

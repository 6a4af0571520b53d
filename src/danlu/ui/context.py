"""What every tab shares: the settings, the jobs, the loaded model, uploads and stop flags.

One `UIContext` per page server (no globals): `danlu ui` makes one, `danlu serve --ui`
makes one beside the API's own state.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from danlu.config import Settings
from danlu.errors import InvalidParameter, InvalidRequest
from danlu.ui.jobs import Jobs

if TYPE_CHECKING:
    from danlu.kb import KnowledgeBase
    from danlu.model import Model

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class UISettings:
    """How the page is served and guarded."""

    host: str = "127.0.0.1"
    """Bind address; anything but loopback needs a password or API key."""
    port: int = 8586
    """TCP port (0: any free port, printed at start)."""
    password: str | None = None
    """Password for the login form (any user name); required off loopback."""
    max_upload_mb: int = 50
    """Largest file the page accepts."""
    open_browser: bool = True
    """Open the page in the default browser at start (`danlu ui` only)."""

    def check(self) -> None:
        if not is_loopback(self.host) and not self.password:
            raise InvalidParameter(
                f"the page would be open to the network on {self.host} without a password",
                hint="pass --password (or DANLU_UI_PASSWORD), or bind to 127.0.0.1",
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoadedModel:
    """The one model the chat holds, loaded on first use and swapped when another is picked.

    One llama.cpp context answers one request at a time: `lock` serialises the sessions.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self._model: Model | None = None

    def get(self, name: str) -> Model:
        """Call with `lock` held."""
        import danlu

        if self._model is not None and self._model.name == name:
            return self._model
        self.close()
        self._model = danlu.load(name, settings=self.settings)
        return self._model

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None


@dataclass
class UIContext:
    settings: Settings
    ui: UISettings
    jobs: Jobs
    model: LoadedModel
    stops: dict[str, threading.Event] = field(default_factory=dict)
    embedders: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, ui: UISettings, settings: Settings | None = None) -> UIContext:
        settings = settings or Settings()
        return cls(settings, ui, Jobs(), LoadedModel(settings))

    @property
    def upload_root(self) -> Path:
        return self.settings.home / "ui" / "uploads"

    @property
    def charts(self) -> Path:
        """Where the page writes the images it shows (the only folder it serves files from)."""
        folder = self.settings.home / "ui" / "charts"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def open_kb(self, name: str) -> KnowledgeBase:
        """Open a knowledge base with this page's embedder for its spec (loaded once)."""
        import danlu.kb

        with danlu.kb.open(name, settings=self.settings) as probe:
            spec = probe.embedder_name
        return danlu.kb.open(name, settings=self.settings, embedder=self.embedder(spec))

    def embedder(self, spec: str) -> Any:
        """The embedder `spec` names, loaded once for this page."""
        from danlu.kb.embedders import open_embedder

        if spec not in self.embedders:
            self.embedders[spec] = open_embedder(spec)
        return self.embedders[spec]

    def stop_flag(self, session: str) -> threading.Event:
        return self.stops.setdefault(session, threading.Event())

    def keep_upload(self, temp: str | Path, area: str, allowed: tuple[str, ...]) -> Path:
        """Copy an uploaded temp file to DANLU_HOME/ui/uploads/AREA/<id>/<clean name>.

        The client names only the file's base name, cleaned; never the folder.
        """
        source = Path(temp)
        name = SAFE_NAME.sub("_", source.name).lstrip(".") or "upload"
        if not name.lower().endswith(allowed):
            raise InvalidRequest(
                f"'{source.name}' is not a file this page takes here",
                hint="accepted: " + ", ".join(allowed),
            )
        limit = self.ui.max_upload_mb * 1_000_000
        if source.stat().st_size > limit:
            raise InvalidRequest(f"'{source.name}' is over {self.ui.max_upload_mb} MB")
        folder = self.upload_root / area / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        shutil.copyfile(source, target)
        return target

    def close(self) -> None:
        self.jobs.close()
        with self.model.lock:
            self.model.close()

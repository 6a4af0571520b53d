"""What every tab shares: the settings, the jobs, the chat's model, uploads and stop flags.

One `UIContext` per page server (no globals): `danlu ui` makes one with a model of its own
(`OwnModel`), `danlu serve --ui` one that borrows from the server's pool (`PoolModels`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from danlu.config import EnvSettings, Settings
from danlu.errors import InvalidParameter, InvalidRequest, ShuttingDown
from danlu.server.settings import ServerSettings
from danlu.server.sites import ANY, host_name, origin_key
from danlu.ui.jobs import Jobs

if TYPE_CHECKING:
    from danlu.engine.base import Vocabulary
    from danlu.kb import KnowledgeBase
    from danlu.model import Model
    from danlu.server.state import ServerState

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# under `serve --ui` the server's body limit covers the page; `danlu ui` holds to the same
API_BODY_LIMIT: int = ServerSettings.model_fields["max_body_bytes"].default


class UISettings(EnvSettings):
    """How the page is served and guarded; each field is also read from a `DANLU_UI_<FIELD>`
    environment variable (e.g. DANLU_UI_PASSWORD), and the flags given win over it."""

    model_config = SettingsConfigDict(env_prefix="DANLU_UI_", extra="forbid")

    host: str = Field(
        "127.0.0.1", description="Bind address; anything but loopback needs a password or API key."
    )
    port: int = Field(8586, ge=0, le=65535, description="TCP port (0: any free port).")
    password: str | None = Field(
        None, description="Password for the login form (any user name); required off loopback."
    )
    max_upload_mb: int = Field(
        50,
        ge=1,
        description="Largest file the page takes, in MiB: gradio refuses a bigger one as it "
        "streams in (413), and each upload box says so.",
    )
    max_body_bytes: int = Field(
        API_BODY_LIMIT,
        ge=1,
        description="Largest body of any other request (a click, a message, the chat so far), "
        "refused with a 413 before the page reads it (`danlu ui`).",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Web pages (scheme://host[:port]; '*': any) that may call the page from a "
        "browser and read its answers, beside pages on this machine and its own "
        "(server/sites.py; `danlu ui`; under `serve --ui`, the server's).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the page answers to ('*': any), beside addresses, localhost, "
        "names without a dot or under .local/.internal, and the bound name (`danlu ui`).",
    )
    open_browser: bool = Field(
        True, description="Open the page in the default browser at start (`danlu ui` only)."
    )
    shutdown_grace: float = Field(
        5.0,
        ge=0,
        description="Seconds open connections get to close when the page stops (an open "
        "browser tab holds one for as long as it is open).",
    )

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 2**20

    def upload_label(self, what: str) -> str:
        """An upload box's label, with the limit the page holds it to."""
        return f"{what} (up to {self.max_upload_mb} MiB a file)"

    def check(self) -> None:
        if not is_loopback(self.host) and not self.password:
            raise InvalidParameter(
                f"the page would be open to the network on {self.host} without a password",
                hint="pass --password (or DANLU_UI_PASSWORD), or bind to 127.0.0.1",
            )
        for origin in self.allowed_origins:
            if origin != ANY and origin_key(origin) is None:
                raise InvalidParameter(
                    f"--allowed-origins: '{origin}' is not an origin",
                    hint="give scheme://host[:port] (http://localhost:3000) or '*'",
                )
        for host in self.allowed_hosts:
            if host != ANY and host_name(host) is None:
                raise InvalidParameter(
                    f"--allowed-hosts: '{host}' is not a host name",
                    hint="give one such as llm.example, or '*'",
                )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ModelSource(Protocol):
    """Where the chat gets its model: lent for one answer, by name."""

    def hold(self, name: str) -> AbstractContextManager[Model]: ...

    def close(self) -> None: ...


class OwnModel:
    """`danlu ui`: the one model the page holds, loaded on first use and swapped when
    another is picked. One llama.cpp context answers one request at a time: `lock`
    serialises the sessions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self._model: Model | None = None

    @contextmanager
    def hold(self, name: str) -> Iterator[Model]:
        with self.lock:
            yield self._get(name)

    def _get(self, name: str) -> Model:
        import danlu

        if self._model is not None and self._model.name == name:
            return self._model
        self._close()
        self._model = danlu.load(name, settings=self.settings)
        return self._model

    def close(self) -> None:
        with self.lock:
            self._close()

    def _close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None


class PoolModels:
    """`danlu serve --ui`: the server's pool lends the model, as it does to an API request
    (one copy in memory, its slots and keep-alive shared with the APIs). The page's
    handlers run on threads; the pool lives on the server's event loop."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    @contextmanager
    def hold(self, name: str) -> Iterator[Model]:
        loop = self.state.loop
        if loop is None or loop.is_closed():
            raise ShuttingDown("the server is not running", hint="start it again")
        holding = self.state.pool.use(name)
        model = asyncio.run_coroutine_threadsafe(holding.__aenter__(), loop).result()
        try:
            yield model
        finally:
            done = asyncio.run_coroutine_threadsafe(holding.__aexit__(None, None, None), loop)
            if not _running_on(loop):  # gradio closes a dropped stream on the loop itself,
                done.result()  # where waiting for the loop would wait forever

    def close(self) -> None:
        """Nothing: the server closes its pool."""


def _running_on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:  # no loop runs in this thread
        return False


@dataclass
class UIContext:
    settings: Settings
    ui: UISettings
    jobs: Jobs
    models: ModelSource
    stops: dict[str, threading.Event] = field(default_factory=dict)
    embedders: Any = None  # danlu.kb.EmbedderCache, made on first use
    vocabularies: dict[str, Vocabulary] = field(default_factory=dict)  # by model name
    vocab_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(
        cls, ui: UISettings, settings: Settings | None = None, models: ModelSource | None = None
    ) -> UIContext:
        """A context for the page; `models` defaults to a model of the page's own."""
        from danlu.ui.job_store import JobStore

        settings = settings or Settings()
        jobs = Jobs(JobStore(settings.ui_dir / "jobs"))
        return cls(settings, ui, jobs, models or OwnModel(settings))

    @property
    def upload_root(self) -> Path:
        return self.settings.ui_dir / "uploads"

    @property
    def charts(self) -> Path:
        """Where the page writes the images it shows (the only folder it serves files from)."""
        folder = self.settings.ui_dir / "charts"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def open_kb(self, name: str) -> KnowledgeBase:
        """Open a knowledge base with this page's embedder for its spec (loaded once)."""
        import danlu.kb

        return danlu.kb.open(name, settings=self.settings, embedders=self.embedder)

    def embedder(self, spec: str) -> Any:
        """The embedder `spec` names, loaded once for this page."""
        if self.embedders is None:  # made on first use: danlu.kb is imported only then
            from danlu.kb import EmbedderCache

            self.embedders = EmbedderCache()
        return self.embedders(spec)

    def vocabulary(self, name: str) -> Vocabulary:
        """Model `name`'s tokenizer alone, opened once for this page: the Tokens tab counts
        with it, so picking a model there neither loads its weights nor swaps the chat's."""
        from danlu.model import open_vocabulary

        with self.vocab_lock:
            if name not in self.vocabularies:
                self.vocabularies[name] = open_vocabulary(name, settings=self.settings)
            return self.vocabularies[name]

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
        if source.stat().st_size > self.ui.max_upload_bytes:
            raise InvalidRequest(f"'{source.name}' is over {self.ui.max_upload_mb} MiB")
        folder = self.upload_root / area / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        shutil.copyfile(source, target)
        return target

    def close(self) -> None:
        self.jobs.close()
        self.models.close()
        with self.vocab_lock:
            for vocabulary in self.vocabularies.values():
                vocabulary.close()
            self.vocabularies.clear()

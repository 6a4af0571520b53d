"""How long work tells its caller how far it has come: one callback shape for the library.

Downloads, imports, hashing, ingests, evaluations, benches, exports and training runs all
report `progress(label, done, total)`: `label` says what is being done now (and may carry
its latest figures, "training · loss 0.412"), `done` of `total` units (total None: not
known yet). The library only reports; the edges draw (cli/progress.py's bar, the page's
jobs panel). A callback may raise to stop the work: a cancelled page job, a client gone.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """The one progress callback: `(label, done, total)`."""

    def __call__(self, label: str, done: int, total: int | None, /) -> None: ...

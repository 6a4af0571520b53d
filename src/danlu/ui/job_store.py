"""Finished jobs kept on disk, so that a restarted page lists them again.

One file a job, `DANLU_HOME/ui/jobs/<id>.json`, written atomically when the job ends
(done, failed or cancelled; a page stopping cancels its running jobs first). A job's
result is kept when it is plain JSON (an evaluation's table, an export's parity report),
and its log tail with it. A file that cannot be read is left out, not an error.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from danlu.atomic import write_text_atomic
from danlu.ui.jobs import PageJob

log = logging.getLogger("danlu.ui")

FIELDS = ("id", "kind", "title", "state", "done", "total", "message", "log", "started", "ended")


class JobStore:
    """The records of ended jobs in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, job: PageJob) -> None:
        record = {name: getattr(job, name) for name in FIELDS}
        record["result"] = job.result if _plain(job.result) else None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.folder / f"{job.id}.json", json.dumps(record))
        except OSError as exc:  # the job itself went well: say so, keep serving
            log.warning("cannot keep the record of job %s: %s", job.id, exc)

    def load(self) -> list[PageJob]:
        jobs = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                jobs.append(PageJob(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):  # damaged or from another version
                log.warning("skipping unreadable job record %s", path)
        return jobs


def _plain(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True

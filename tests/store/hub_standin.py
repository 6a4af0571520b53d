"""A stand-in for the Hugging Face Hub's HTTP API on an ephemeral loopback port.

It answers the three requests a GGUF pull makes: the repo's file list
(`/api/models/<repo>`), and HEAD/GET `/<repo>/resolve/<rev>/<file>` with the
headers huggingface_hub reads (X-Repo-Commit, ETag, Content-Length), and the
X-Error-Code headers the real hub sends for a missing repo or file. A GET with
`Range: bytes=N-` (how huggingface_hub resumes a download) is answered 206 with the
rest of the file. Every GET body is logged, so a test can count the bytes served, and
a file named in `cut` has its first GET cut off after that many bytes, as a dropped
connection would.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

OPEN_RANGE = re.compile(r"^bytes=(\d+)-$")


@dataclass(frozen=True)
class Served:
    """One GET of a file: where the body started in the file and how many bytes it held."""

    filename: str
    start: int
    sent: int


def _handler(repos: dict[str, dict[str, Path]], log: list[Served], cut: dict[str, int]) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _error(self, code: str, status: int = 404) -> None:
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _model_info(self, repo_id: str) -> None:
            if repo_id not in repos:
                return self._error("RepoNotFound")
            siblings = [{"rfilename": f} for f in sorted(repos[repo_id])]
            info = {"id": repo_id, "sha": _commit(repo_id), "siblings": siblings}
            body = json.dumps(info).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None

        def _resolve(self, repo_id: str, filename: str, with_body: bool) -> None:
            if repo_id not in repos:
                return self._error("RepoNotFound")
            if filename not in repos[repo_id]:
                return self._error("EntryNotFound")
            data = repos[repo_id][filename].read_bytes()
            start = self._range_start(len(data)) if with_body else 0
            if start is None:
                return self._error("RangeNotSatisfiable", 416)
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", _commit(repo_id))
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Accept-Ranges", "bytes")
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if with_body:
                body = data[start:][: cut.pop(filename, None)]  # the whole rest, or the cut
                self.wfile.write(body)
                log.append(Served(filename, start, len(body)))
                self.close_connection = len(body) < len(data) - start
            return None

        def _range_start(self, size: int) -> int | None:
            """Where the body starts: 0 without a Range header, None if it cannot be served."""
            header = self.headers.get("Range")
            if header is None:
                return 0
            match = OPEN_RANGE.match(header.strip())
            if match is None or int(match.group(1)) >= size:
                return None  # only the open-ended form huggingface_hub sends is supported
            return int(match.group(1))

        def _route(self, with_body: bool) -> None:
            parts = unquote(urlsplit(self.path).path).strip("/").split("/")
            if parts[:2] == ["api", "models"]:
                return self._model_info("/".join(parts[2:4]))
            if len(parts) >= 5 and parts[2] == "resolve":
                return self._resolve("/".join(parts[:2]), "/".join(parts[4:]), with_body)
            return self._error("RepoNotFound")

        def do_GET(self) -> None:
            self._route(with_body=True)

        def do_HEAD(self) -> None:
            self._route(with_body=False)

    return Handler


def _commit(repo_id: str) -> str:
    return hashlib.sha1(repo_id.encode()).hexdigest()


def etag(path: Path) -> str:
    """The ETag the stand-in gives a file (huggingface_hub names the cache blob after it)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def hub_standin(
    repos: dict[str, dict[str, Path]],
    log: list[Served] | None = None,
    cut: dict[str, int] | None = None,
) -> Iterator[str]:
    """Serve `repos` ({repo_id: {filename: local file}}); yields the endpoint URL.

    Each file body sent is appended to `log`, when one is given; the first GET of a
    file in `cut` ({filename: bytes}) ends after that many bytes of its body."""
    handler = _handler(repos, [] if log is None else log, dict(cut or {}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

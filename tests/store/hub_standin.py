"""A stand-in for the Hugging Face Hub's HTTP API on an ephemeral loopback port.

It answers the three requests a GGUF pull makes: the repo's file list
(`/api/models/<repo>`), and HEAD/GET `/<repo>/resolve/<rev>/<file>` with the
headers huggingface_hub reads (X-Repo-Commit, ETag, Content-Length), and the
X-Error-Code headers the real hub sends for a missing repo or file.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


def _handler(repos: dict[str, dict[str, Path]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _error(self, code: str) -> None:
            self.send_response(404)
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
            self.send_response(200)
            self.send_header("X-Repo-Commit", _commit(repo_id))
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if with_body:
                self.wfile.write(data)
            return None

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


@contextmanager
def hub_standin(repos: dict[str, dict[str, Path]]) -> Iterator[str]:
    """Serve `repos` ({repo_id: {filename: local file}}); yields the endpoint URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(repos))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""The page: one gradio Blocks with a tab per job, and the panel of background jobs.

`build_blocks(ctx)` makes the page; `mount(app, ctx, path)` puts it into a FastAPI app
(`danlu ui` mounts it at / of its own app, `danlu serve --ui` at /ui beside the APIs),
with the login, the upload limit and gradio's upload folder under DANLU_HOME.
`page_app(ctx)` is `danlu ui`'s app: the page behind the API server's guard.
"""

from __future__ import annotations

import hmac
import importlib
import os
from collections.abc import Callable

import gradio as gr
from fastapi import FastAPI
from gradio.route_utils import API_PREFIX
from gradio.routes import App
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from danlu.server.guard import Guard
from danlu.server.sites import SiteCORS, SitePolicy
from danlu.ui.context import UIContext
from danlu.ui.feedback import friendly

# (label, module): each module has build(ctx, demo), called inside its tab
TABS = (
    ("Chat", "danlu.ui.chat_tab"),
    ("Models", "danlu.ui.models_tab"),
    ("Tokens", "danlu.ui.tokens_tab"),
    ("Knowledge", "danlu.ui.knowledge_tab"),
    ("Train", "danlu.ui.train_tab"),
    ("Evaluate", "danlu.ui.evaluate_tab"),
)
JOB_COLUMNS = ["id", "kind", "what", "state", "progress", "time", "message"]
POLL_SECONDS = 1.0
CSS = "footer {display: none !important}"


def end_streams(app: FastAPI) -> None:
    """End the open streams of the pages mounted in `app` (each browser tab holds a
    heartbeat stream for as long as it is open), so that a stopping server need not wait
    out its grace period for them. Call it as the server starts to stop, as gradio's own
    server does."""
    for route in app.routes:
        page = getattr(route, "app", None)
        if isinstance(page, App):
            page.stop_event.set()


def theme() -> gr.themes.Base:
    """System fonts: the page must not wait on a font server it cannot reach."""
    return gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def _jobs_panel(ctx: UIContext) -> None:
    with gr.Accordion("Background jobs", open=True, elem_id="jobs-panel"):
        table = gr.Dataframe(
            headers=JOB_COLUMNS, interactive=False, elem_id="jobs-table", wrap=True
        )
        with gr.Row():
            which = gr.Dropdown(label="Job", elem_id="jobs-pick", scale=3)
            cancel = gr.Button("Cancel job", variant="stop", elem_id="jobs-cancel", scale=1)

    def rows() -> tuple[list[list[str]], dict]:
        jobs = ctx.jobs.list()
        running = [j.id for j in jobs if j.running]
        return [j.row() for j in jobs] or [[""] * len(JOB_COLUMNS)], gr.update(choices=running)

    def cancel_job(job_id: str) -> list[list[str]]:
        if not job_id or ctx.jobs.cancel(job_id) is None:
            raise gr.Error("Pick a running job to cancel.")
        return rows()[0]

    gr.Timer(POLL_SECONDS).tick(rows, None, [table, which], show_progress="hidden")
    cancel.click(friendly(cancel_job), which, table)


def build_blocks(ctx: UIContext) -> gr.Blocks:
    with gr.Blocks(title="danlu", analytics_enabled=False) as demo:
        gr.Markdown("## 丹炉 danlu — chat, models, knowledge bases, training, evaluation")
        with gr.Tabs():
            for label, module in TABS:
                with gr.Tab(label, id=label.lower(), elem_id=f"tab-{label.lower()}"):
                    importlib.import_module(module).build(ctx, demo)
        _jobs_panel(ctx)
    return demo


def _auth(secrets: set[str]) -> Callable[[str, str], bool] | None:
    if not secrets:
        return None
    keys = [secret.encode() for secret in secrets]  # bytes: a password need not be ASCII
    return lambda _user, password: any(hmac.compare_digest(password.encode(), k) for k in keys)


class LoginGate:
    """The page's API behind its login. gradio checks the login on most of its routes but
    leaves some open (the heartbeat stream, cancel, reset, startup-events, ...): with a
    login, every request under gradio_api/ needs the session the login form started. The
    page, its assets and the login form itself stay open, or nobody could log in."""

    def __init__(self, app: ASGIApp, page: App) -> None:
        self.app = app
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _api_path(scope) and not self._logged_in(scope):
            refused = JSONResponse({"detail": "Not authenticated"}, status_code=401)
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _logged_in(self, scope: Scope) -> bool:
        cookies = Request(scope).cookies
        names = ("access-token-", "access-token-unsecure-")  # the cookies gradio's login sets
        tokens = [cookies.get(name + self.page.cookie_id) for name in names]
        return any(token in self.page.tokens for token in tokens if token)


def _api_path(scope: Scope) -> bool:
    path = scope["path"].removeprefix(scope.get("root_path", ""))
    return path.startswith(f"{API_PREFIX}/")


def _page_app(app: FastAPI, path: str) -> App:
    """The gradio app mounted at `path` of `app`."""
    mounted = [r.app for r in app.routes if isinstance(r, Mount) and r.path == path.rstrip("/")]
    return next(page for page in mounted if isinstance(page, App))


def mount(app: FastAPI, ctx: UIContext, path: str, secrets: set[str] = frozenset()) -> FastAPI:
    """Put the page into `app` at `path`; `secrets` (a password, API keys) guard the login."""
    upload_tmp = ctx.settings.ui_dir / "tmp"
    upload_tmp.mkdir(parents=True, exist_ok=True)
    # gradio keeps uploads in its own folder until a handler copies them; keep it under home
    os.environ["GRADIO_TEMP_DIR"] = str(upload_tmp)
    demo = build_blocks(ctx)
    demo.queue(default_concurrency_limit=4)
    gr.mount_gradio_app(
        app,
        demo,
        path=path,
        auth=_auth(set(secrets)),
        auth_message="danlu: the password, or one of the server's API keys",
        max_file_size=ctx.ui.max_upload_bytes,
        allowed_paths=[str(ctx.charts)],
        ssr_mode=False,
        footer_links=[],
        theme=theme(),
        css=CSS,
    )
    if secrets:
        page = _page_app(app, path)
        page.add_middleware(LoginGate, page=page)
    return app


def page_app(ctx: UIContext) -> FastAPI:
    """`danlu ui`'s app: the page at /, guarded as `danlu serve` guards its own (another
    site's page could otherwise drive it, and a DNS-rebinding one read it): foreign Host
    names and other sites' pages get a 403 by server/sites.py's rule, and every request but
    an upload (held to the page's own limit) is bounded by `max_body_bytes`."""
    ui = ctx.ui
    app = mount(FastAPI(title="danlu ui"), ctx, "/", {ui.password} - {None})
    sites = SitePolicy.of(ui.allowed_origins, ui.allowed_hosts, ui.host)
    app.add_middleware(SiteCORS, policy=sites)
    app.add_middleware(Guard, keys=set(), max_body=ui.max_body_bytes, sites=sites, page="")
    return app

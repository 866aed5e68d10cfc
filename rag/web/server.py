"""`python app.py`: index the docs folder (incrementally, with progress), load the models and
serve the chat on 127.0.0.1:7860 (RAG_HOST / RAG_PORT, or --host / --port).

The launch-safety rules live here too: the chat binds the loopback address by default, and any
other address needs a password (RAG_AUTH=user:password) or an explicit
RAG_ALLOW_UNAUTHENTICATED=true. Settings, credentials, exposure and the port are all checked
before the slow start-up, so a mistake is reported at once.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import socket
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rag.errors import RagError, SettingsError
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.ingest.store import Progress

EXIT_USAGE, EXIT_ERROR = 2, 1


# -- launch safety ------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """RAG_AUTH "user:password" -> (user, password); None when unset. SettingsError when it
    does not look like that."""
    if value is None or not value.strip():
        return None
    user, sep, password = value.partition(":")
    if not sep or not user.strip() or not password:
        raise SettingsError("RAG_AUTH must look like user:password (both non-empty)")
    return user.strip(), password


def exposure_problem(host: str, auth: tuple[str, str] | None, allow_unauthenticated: bool) -> str:
    """Why serving on `host` would be unsafe, or "" when it is fine."""
    if is_loopback(host) or auth is not None or allow_unauthenticated:
        return ""
    return (
        f"refusing to serve on {host} without a password: anyone who can reach this machine "
        "could read and change your documents. Set RAG_AUTH=user:password, or "
        "RAG_ALLOW_UNAUTHENTICATED=true if the network is trusted, or keep the default "
        "RAG_HOST=127.0.0.1"
    )


def port_problem(host: str, port: int) -> str:
    """Why the chat cannot listen on host:port, or "" (checked before the slow start-up)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} is already in use; pick another with RAG_PORT=... or --port ..."
                )
            return f"cannot listen on {host}:{port} ({exc.strerror or exc})"
    return ""


# -- serving --------------------------------------------------------------------------------------

# What a visitor without a session may fetch when RAG_AUTH is set: the login page and the
# files it is drawn with, and /gradio_api/startup-events (launch() calls it once without a
# cookie; later it does nothing). Everything else, including any route a gradio upgrade adds,
# is refused before gradio sees it: gradio itself leaves some routes open (the heartbeat,
# /cancel, /token, /app_id, /runs, /openapi.json, /stream/...).
PUBLIC_PATHS = frozenset(
    {"/", "/login", "/login/", "/favicon.ico", "/theme.css", "/gradio_api/startup-events"}
)
PUBLIC_PREFIXES = ("/assets/", "/static/")
# The page shows no file (a PDF page travels as a data: URI), so gradio's file routes serve
# nothing, to anyone: not an upload waiting in gradio's temporary folder, not the documents
# folder, not the cache or any other path on the machine.
FILE_ROUTES = ("/gradio_api/file=", "/gradio_api/file/", "/gradio_api/proxy=", "/file=")


class Gate:
    """ASGI middleware in front of every gradio route: refuses the file routes always, and
    when `auth_required`, any request but the login page's without a valid session cookie
    (the cookie gradio's /login sets; gradio_client sends it too)."""

    def __init__(self, app: Any, auth_required: bool) -> None:
        self.app = app
        self.auth_required = auth_required

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from urllib.parse import unquote

        path = scope.get("path", "")  # as the router will match it (already %-decoded once)
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        if path.startswith(FILE_ROUTES) or unquote(path).startswith(FILE_ROUTES):
            await self._refuse(scope, receive, send, 403, "files are not served by this app")
        elif self.auth_required and not _public(path) and not _signed_in(scope):
            await self._refuse(scope, receive, send, 401, "Not authenticated")
        else:
            await self.app(scope, receive, send)

    async def _refuse(self, scope: Any, receive: Any, send: Any, status: int, why: str) -> None:
        from starlette.responses import JSONResponse

        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await JSONResponse({"detail": {"error": why}}, status_code=status)(scope, receive, send)


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _signed_in(scope: Any) -> bool:
    """A cookie naming a session gradio's /login opened (fails closed if gradio changes)."""
    from starlette.requests import HTTPConnection

    app = scope.get("app")
    tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
    if not isinstance(tokens, dict) or not cookie_id:
        return False
    cookies = HTTPConnection(scope).cookies
    names = (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}")
    return any(cookies.get(name) in tokens for name in names if cookies.get(name))


def serve(demo: Any, settings: Settings, auth: tuple[str, str] | None, block: bool = True) -> Any:
    """Launch the page built by rag.web.page.build_app with the web settings."""
    import gradio as gr
    from starlette.middleware import Middleware

    from rag.web.page import static_text

    web = settings.web
    theme = gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate")
    return demo.queue(default_concurrency_limit=4).launch(
        server_name=web.host,
        server_port=web.port,
        auth=auth,
        auth_message="Sign in to use the document chat.",
        share=False,
        ssr_mode=False,
        show_error=False,
        quiet=True,
        footer_links=["api", "settings"],
        # add_files refuses files over the limit with a clear message; this only stops abuse
        max_file_size=max(10 * web.max_upload_bytes, 20_000_000),
        prevent_thread_lock=not block,
        theme=theme,
        css=static_text("chat.css"),
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        # answers run beside each other (rag/web/page.py: up to 32 at once, an /ask waiting
        # for the LLM holding its thread), with room left for the page's other events
        max_threads=64,
        app_kwargs={"middleware": [Middleware(Gate, auth_required=auth is not None)]},
    )


# -- the command ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python app.py", description="Serve the document chat in the browser."
    )
    parser.add_argument("--docs", help="documents folder (default: seeds/, or RAG_DOCS_DIR)")
    parser.add_argument("--host", help="address to bind (default: 127.0.0.1, or RAG_HOST)")
    parser.add_argument("--port", type=int, help="port (default: 7860, or RAG_PORT)")
    parser.add_argument("--answerer", choices=["auto", "llm", "extractive"])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more to stderr")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings (RAG_*) with the command line's flags on top."""
    overrides: dict[str, Any] = {}
    for name, key in (("docs", "docs_dir"), ("host", "host"), ("port", "port")):
        if getattr(args, name) is not None:
            overrides[key] = getattr(args, name)
    if args.answerer:
        overrides["answerer"] = args.answerer
    return Settings.load(**overrides)


def _progress_printer() -> Progress | None:
    """Indexing progress on stderr (tqdm draws its own bar on a terminal; this covers logs)."""
    if sys.stderr.isatty():
        return None
    last = [-1]

    def show(done: int, total: int, what: str) -> None:
        step = int(10 * done / max(total, 1))
        if step != last[0]:
            last[0] = step
            print(f"  {what}: {done}/{total}", file=sys.stderr, flush=True)

    return show


def _error(message: object, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = settings_from(args)
        auth = parse_auth(settings.web.auth)
    except SettingsError as exc:
        return _error(exc, EXIT_USAGE)
    web = settings.web
    problem = exposure_problem(web.host, auth, web.allow_unauthenticated)
    if problem:
        return _error(problem, EXIT_USAGE)
    problem = port_problem(web.host, web.port)
    if problem:
        return _error(problem, EXIT_ERROR)

    # the heavy imports (torch, LlamaIndex, Chroma, gradio) only once the settings are good
    from rag.engine import Engine
    from rag.ingest.lock import IndexBusy
    from rag.web.page import build_app
    from rag.web.session import ChatSession

    docs_dir = settings.index.docs_dir
    try:
        print(f"Indexing {docs_dir} …", file=sys.stderr, flush=True)
        session = ChatSession(Engine(settings))
        try:
            report = session.ingest(_progress_printer(), wait=False)
            for skipped in report.skipped:
                print(f"  skipped {skipped.doc_id}: {skipped.reason}", file=sys.stderr)
            print(f"  {report.summary()}", file=sys.stderr, flush=True)
        except IndexBusy as exc:  # its documents show up as it commits them (refresh)
            print(f"  {exc}; serving the documents it has indexed so far", file=sys.stderr)
        if not session.n_docs():
            print(f"  {docs_dir} holds no documents yet; add some from the page", file=sys.stderr)
        print("Loading the models …", file=sys.stderr, flush=True)
        session.warm_up()
        demo = build_app(session)
    except RagError as exc:
        return _error(exc, EXIT_ERROR)
    url_host = f"[{web.host}]" if ":" in web.host else web.host
    try:
        serve(demo, settings, auth, block=False)
    except OSError as exc:  # taken in the meantime
        return _error(f"cannot serve on {web.host}:{web.port}: {exc}", EXIT_ERROR)
    print(f"Chat ready at http://{url_host}:{web.port}/  (Ctrl+C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("Stopping.", file=sys.stderr)
    finally:
        demo.close()
    return 0

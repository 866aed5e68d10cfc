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


def serve(demo: Any, settings: Settings, auth: tuple[str, str] | None, block: bool = True) -> Any:
    """Launch the page built by rag.web.page.build_app with the web settings."""
    import gradio as gr

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
    from rag.web.page import build_app
    from rag.web.session import ChatSession

    docs_dir = settings.index.docs_dir
    try:
        print(f"Indexing {docs_dir} …", file=sys.stderr, flush=True)
        session = ChatSession(Engine(settings))
        report = session.ingest(_progress_printer())
        for skipped in report.skipped:
            print(f"  skipped {skipped.doc_id}: {skipped.reason}", file=sys.stderr)
        print(f"  {report.summary()}", file=sys.stderr, flush=True)
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

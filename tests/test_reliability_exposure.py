"""Exposure (issue 12, item 5): with RAG_AUTH set, every route the chat serves refuses a client
without credentials, no file route serves an upload, a document or any other file, and the
server log never prints the credentials.

One `python app.py -v` runs for the whole module with RAG_AUTH set. The list of routes probed is
not written down here: it is read at run time from the same page launched in this process (over
the fake embedder) through rag.web.server.serve, so a route a gradio upgrade adds is probed too.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from tests.appserver import Server, start_app, stop_app
from tests.conftest import ROOT, SEED_DOC, free_port

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

USER = "reader"
# distinctive, and with the characters an encoder would change (space, colon, plus)
PASSWORD = "Zq7 corvid:lantern+9481"
TIMEOUT = 10.0

# What a client without a session may fetch: the login page and what draws it. The policy is
# written here, independently of rag/web/server.py, so widening the server's list fails a test.
PUBLIC = {
    ("GET", "/"),
    ("HEAD", "/"),
    ("POST", "/login"),
    ("POST", "/login/"),
    ("GET", "/favicon.ico"),
    ("GET", "/theme.css"),
    ("GET", "/assets/{path:path}"),
    ("GET", "/static/{path:path}"),
    ("GET", "/gradio_api/startup-events"),  # launch() calls it once; afterwards a no-op
}
# routes the enumeration must find, or it is not enumerating what serves the chat
KEY_ROUTES = {
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("POST", "/gradio_api/queue/join"),
    ("GET", "/gradio_api/queue/data"),
    ("POST", "/gradio_api/call/{api_name}"),
    ("GET", "/gradio_api/call/{api_name}/{event_id}"),
    ("POST", "/gradio_api/run/{api_name}"),
    ("POST", "/gradio_api/upload"),
    ("GET", "/gradio_api/file={path_or_url:path}"),
    ("GET", "/gradio_api/file/{path:path}"),
    ("GET", "/gradio_api/heartbeat/{session_hash}"),
    ("POST", "/gradio_api/cancel"),
}
UPLOAD_MARKER = "The quartermaster's ledger lists 7,341 brass lanterns"


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_app(
        tmp_path_factory.mktemp("exposure"),
        {"RAG_AUTH": f"{USER}:{PASSWORD}", "PYTHONUNBUFFERED": "1"},
        args=["-v"],
    )
    yield srv
    stop_app(srv)


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """(method, path template) of every route of the chat as rag.web.server.serve launches it
    (in this process, over the fake embedder; the same gradio, the same page, the same launch)."""
    from rag.engine import Engine
    from rag.settings import Settings
    from rag.web.page import build_app
    from rag.web.server import serve
    from rag.web.session import ChatSession
    from tests.fakes import HashingEmbedder

    tmp = tmp_path_factory.mktemp("routes")
    (tmp / "docs").mkdir()
    (tmp / "docs" / "note.txt").write_text("The lighthouse was lit in 1896.\n", encoding="utf-8")
    settings = Settings.load(
        docs_dir=tmp / "docs",
        cache_dir=tmp / "cache",
        answerer="extractive",
        condense="rules",
        host="127.0.0.1",
        port=free_port(),
    )
    session = ChatSession(Engine(settings, embedder=HashingEmbedder()))
    session.ingest()
    demo = build_app(session)
    serve(demo, settings, ("someone", "something"), block=False)
    try:
        found = sorted(set(_walk(demo.app.routes)))
    finally:
        demo.close()
    return found


def _walk(routes: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    from starlette.routing import Mount

    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's include_router (gradio_api/...)
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            yield from _walk(route.routes, prefix + route.path)
        elif hasattr(route, "path"):
            for method in getattr(route, "methods", None) or {"GET"}:
                yield method, prefix + route.path
        else:
            raise AssertionError(f"a route of an unknown kind, teach _walk about it: {route!r}")


# -- helpers --------------------------------------------------------------------------------------


def login(server: Server, password: str = PASSWORD, user: str = USER) -> httpx.Client:
    """A client with its own cookie jar, signed in through gradio's /login (as the page is)."""
    client = httpx.Client(base_url=server.url, timeout=TIMEOUT)
    r = client.post("/login", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    assert any(name.startswith("access-token") for name in client.cookies), r.headers
    return client


def concrete(template: str) -> str:
    """A request path for a route template: /etc/passwd for a file path, 1 for the rest."""
    path = template.replace("{path_or_url:path}", "/etc/passwd")
    return re.sub(r"\{\w+(?::\w+)?\}", "1", path)


def status_of(client: httpx.Client, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
    """The status and the first bytes of the answer (streams are not waited for)."""
    if method == "POST" and "json" not in kwargs and "data" not in kwargs:
        kwargs["json"] = {}
    try:
        with client.stream(method, path, **kwargs) as r:
            # an open route may be an endless stream (a heartbeat): only its first chunk
            head = next(r.iter_raw(), b"") if r.status_code < 300 else r.read()
            return r.status_code, head[:2000].decode("utf-8", "replace")
    except httpx.TimeoutException:
        return 0, "(no answer within the timeout)"


def upload_raw(client: httpx.Client, name: str, data: bytes) -> str:
    """POST /gradio_api/upload, as the page does before the upload event: the temporary path."""
    r = client.post("/gradio_api/upload", files={"files": (name, data, "text/plain")})
    assert r.status_code == 200, r.text
    (path,) = r.json()
    return str(path)


def run_event(client: httpx.Client, elem_id: str, trigger: str, data: list[Any]) -> dict[str, Any]:
    """Run one of the page's (private) events as the browser does: queue/join, then read the
    session's queue/data stream until the event completes."""
    config = client.get("/config").json()
    comp = next(c["id"] for c in config["components"] if c["props"].get("elem_id") == elem_id)
    fn = next(d["id"] for d in config["dependencies"] if [comp, trigger] in d["targets"])
    session = uuid.uuid4().hex[:11]
    body = {
        "data": data,
        "event_data": None,
        "fn_index": fn,
        "trigger_id": comp,
        "session_hash": session,
    }
    r = client.post("/gradio_api/queue/join", json=body)
    assert r.status_code == 200, r.text
    with client.stream(
        "GET", f"/gradio_api/queue/data?session_hash={session}", timeout=180
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    assert msg.get("success"), msg
                    return dict(msg["output"])
    raise AssertionError("the event never completed")


def files_refused(client: httpx.Client, target: str) -> list[str]:
    """Every way gradio's routes could serve `target`; returns those that did not refuse."""
    leaks = []
    for route in ("/gradio_api/file=", "/gradio_api/file/"):
        for path in (target, quote(target, safe="")):
            for method in ("GET", "HEAD"):
                code, body = status_of(client, method, route + path)
                if code < 400 or UPLOAD_MARKER in body or "root:" in body:
                    leaks.append(f"{method} {route}{path} -> {code} {body[:80]!r}")
    return leaks


# -- 1. every route refuses a client without credentials ----------------------------------------


def test_every_route_refuses_a_client_without_credentials(
    server: Server, routes: list[tuple[str, str]]
) -> None:
    assert set(routes) >= KEY_ROUTES, f"enumeration missed {KEY_ROUTES - set(routes)}"
    signed_in = login(server)
    cookie_names = [n for n in signed_in.cookies if n.startswith("access-token")]
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    session = uuid.uuid4().hex[:11]
    outsiders = {
        "no credentials": httpx.Client(base_url=server.url, timeout=3),
        "a forged session cookie": httpx.Client(
            base_url=server.url,
            timeout=3,
            cookies={name: "forged-token" for name in [*cookie_names, "access-token"]},
        ),
        "the password as HTTP Basic": httpx.Client(
            base_url=server.url, timeout=3, headers={"Authorization": f"Basic {basic}"}
        ),
    }
    opened: list[str] = []
    rows: list[str] = []
    for method, template in routes:
        path = concrete(template)
        if template in ("/gradio_api/queue/data", "/gradio_api/upload_progress"):
            path += f"?session_hash={session}&upload_id={session}"
        for who, client in outsiders.items():
            code, body = status_of(client, method, path)
            rows.append(f"{method} {template}: {who} -> {code}")
            if (method, template) in PUBLIC:
                assert code < 500, f"{method} {path} ({who}) -> {code}: {body[:200]}"
                assert SEED_DOC not in body and "rc-chat" not in body, (
                    f"{method} {path} shows the chat to a client with {who}"
                )
            elif code not in (401, 403):
                opened.append(f"{method} {path} with {who} -> {code}: {body[:100]!r}")
    print("\n".join(rows))  # the route table (pytest -s shows it)
    assert not opened, "routes open without credentials:\n" + "\n".join(opened)
    # the page itself: the login form, nothing of the chat or the documents
    code, page = status_of(outsiders["no credentials"], "GET", "/")
    assert code == 200 and '"auth_required":true' in page.replace(" ", "")


def test_the_right_credentials_open_the_page_the_api_and_uploads(server: Server) -> None:
    from gradio_client import Client

    # a wrong password opens nothing (the page, gradio_client)
    for user, password in ((USER, PASSWORD + "x"), ("admin", PASSWORD), (USER, "")):
        r = httpx.post(server.url + "login", data={"username": user, "password": password})
        assert r.status_code in (400, 401, 422) and not r.cookies, (user, r.status_code)
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises several kinds
        Client(server.url, auth=(USER, PASSWORD + "x"), verbose=False)
    with pytest.raises(Exception):  # noqa: B017
        Client(server.url, verbose=False).predict("Why were the drills suspended?", api_name="/ask")

    client = login(server)
    page = client.get("/")
    assert page.status_code == 200 and "rc-chat" in page.text
    assert "/ask" in client.get("/gradio_api/info").json()["named_endpoints"]

    api = Client(server.url, auth=(USER, PASSWORD), verbose=False)
    answer = api.predict("Why were the drills suspended?", api_name="/ask")
    assert answer["citations"] and not answer["refused"]

    # an upload, through gradio's upload route and the page's upload event
    temp = upload_raw(client, "ledger.md", f"# Ledger\n\n{UPLOAD_MARKER}.\n".encode())
    out = run_event(
        client,
        "rc-upload",
        "upload",
        [[{"path": temp, "orig_name": "ledger.md", "meta": {"_type": "gradio.FileData"}}], None],
    )
    assert "Added ledger.md" in json.dumps(out["data"]), out
    assert (server.docs / "ledger.md").read_text(encoding="utf-8").startswith("# Ledger")
    assert not Path(temp).exists(), "gradio's temporary copy outlived the upload event"
    # ... and nothing of it comes back through the file routes, even to the uploader
    assert files_refused(client, temp) == []
    assert files_refused(client, str(server.docs / "ledger.md")) == []


# -- 2. no file route serves an upload, a document or any other file -----------------------------


def test_uploads_documents_and_other_files_are_never_served(server: Server) -> None:
    uploader, other = login(server), login(server)
    anonymous = httpx.Client(base_url=server.url, timeout=TIMEOUT)
    secret = f"{UPLOAD_MARKER}, uploaded and never processed.\n"
    # a raw upload that no event ever processes stays in gradio's temporary folder
    temp = upload_raw(uploader, "waiting.txt", secret.encode())
    assert Path(temp).read_text(encoding="utf-8") == secret
    temp_dir = Path(server.env["GRADIO_TEMP_DIR"])
    assert Path(temp).is_relative_to(temp_dir)
    # without credentials an upload is refused before a byte of it is written
    before = sorted(temp_dir.rglob("*"))
    r = anonymous.post("/gradio_api/upload", files={"files": ("x.txt", secret, "text/plain")})
    assert r.status_code == 401 and sorted(temp_dir.rglob("*")) == before

    cache = Path(server.env["RAG_CACHE_DIR"])
    targets = [
        temp,
        str(server.docs / SEED_DOC),
        str(server.docs),
        *[str(p) for p in sorted(cache.rglob("*")) if p.is_file()][:5],
        "/etc/passwd",
        str(ROOT / "pyproject.toml"),
        "../../../../../../etc/passwd",
        f"{server.env['GRADIO_TEMP_DIR']}/../../../../../../etc/passwd",
    ]
    leaks = []
    for client, who in (
        (other, "another session"),
        (uploader, "the uploader"),
        (anonymous, "no credentials"),
    ):
        for target in targets:
            leaks += [f"{who}: {leak}" for leak in files_refused(client, target)]
        # traversal through the static routes the login page needs
        for path in (
            "/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
            "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/assets/" + "..%252f" * 8 + "etc/passwd",
            "/gradio_api/file%3D/etc/passwd",
            "/gradio_api/file%253D/etc/passwd",
            "/gradio_api/proxy=https://huggingface.co/",
        ):
            code, body = status_of(client, "GET", path)
            if code < 300 or "root:" in body or UPLOAD_MARKER in body:
                leaks.append(f"{who}: GET {path} -> {code} {body[:80]!r}")
    assert not leaks, "files served:\n" + "\n".join(leaks)


# -- 3. the log never prints the credentials ------------------------------------------------------


def test_the_log_never_prints_credentials(server: Server) -> None:
    from gradio_client import Client

    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    # failed logins: the right password under another name, a wrong one that contains it
    for user, password in ((USER, PASSWORD + "!"), ("admin", PASSWORD), (USER, "")):
        httpx.post(server.url + "login", data={"username": user, "password": password})
    httpx.get(server.url + "config", headers={"Authorization": f"Basic {basic}"})
    client = login(server)
    api = Client(server.url, auth=(USER, PASSWORD), verbose=False)
    api.predict("Why were the drills suspended?", api_name="/ask")
    with pytest.raises(Exception, match="empty"):
        api.predict("   ", api_name="/ask")  # an error, reported to the client
    bad = upload_raw(client, "binary.txt", b"\x00\x01\x02 not text \xff" * 40)
    run_event(
        client,
        "rc-upload",
        "upload",
        [[{"path": bad, "orig_name": "binary.txt", "meta": {"_type": "gradio.FileData"}}], None],
    )
    tokens = [v for n, v in client.cookies.items() if n.startswith("access-token")]
    tokens += [v for n, v in api.cookies.items() if n.startswith("access-token")]
    assert tokens
    time.sleep(1)  # the app writes unbuffered (PYTHONUNBUFFERED); let the last lines land
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert "Chat ready" in log and "INFO" in log, log[-2000:]  # a verbose log of this app
    forbidden = {
        "the password": PASSWORD,
        "the password, form-encoded": quote_plus(PASSWORD),
        "the password, URL-encoded": quote(PASSWORD, safe=""),
        "user:password in base64": basic,
        **{f"session cookie {i}": token for i, token in enumerate(tokens)},
    }
    found = [what for what, secret in forbidden.items() if secret in log]
    assert not found, f"the server log prints {', '.join(found)}"


@pytest.mark.parametrize(
    "value", ["nocolon-Zq7corvidLantern", ":Zq7corvidLantern", "Zq7corvidLantern:"]
)
def test_a_malformed_rag_auth_is_refused_without_echoing_it(value: str, tmp_path: Path) -> None:
    env = {**os.environ, "RAG_AUTH": value, "RAG_CACHE_DIR": str(tmp_path)}
    env["RAG_PORT"] = str(free_port())
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "-v"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "RAG_AUTH must look like user:password" in done.stderr
    output = done.stdout + done.stderr
    assert "Zq7corvidLantern" not in output, output

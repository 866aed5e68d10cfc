"""`python app.py` as a subprocess for the tests that need a real server (the browser and
reliability tests): over a temporary copy of seeds/ (never the real folder), with its own cache,
index folder and free port."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS, free_port

MAX_UPLOAD = 100_000
START_TIMEOUT = 300  # the first start loads the embedding model on a slow CI box


@dataclass
class Server:
    url: str
    docs: Path
    proc: subprocess.Popen[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)


def start_app(
    tmp: Path,
    extra_env: dict[str, str] | None = None,
    copy_seeds: bool = True,
    args: Sequence[str] = (),
) -> Server:
    """Start the chat over a copy of seeds/ (or an empty docs folder) and wait until it serves;
    `args` go to app.py (e.g. "-v")."""
    tmp.mkdir(parents=True, exist_ok=True)
    docs = tmp / "docs"
    if copy_seeds:
        shutil.copytree(SEEDS, docs)
    else:
        docs.mkdir(exist_ok=True)  # empty, or filled by the test
    port = free_port()
    env = {
        **os.environ,
        "RAG_PORT": str(port),
        "RAG_DOCS_DIR": str(docs),
        "RAG_CACHE_DIR": str(tmp / "cache"),
        "RAG_ANSWERER": "extractive",
        "RAG_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        **(extra_env or {}),
    }
    log = tmp / "server.log"
    out = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), *args],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app.py exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in (200, 401, 403):
                    break
        except OSError:
            pass
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"app.py did not serve {url} within {START_TIMEOUT} s:\n{log.read_text()}")
    return Server(url, docs, proc, log, env)


def stop_app(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


def seed_questions() -> list[str]:
    """The seed set's answerable stand-alone questions, ordered so that neighbours have
    different gold sentences (a client's three questions have different answers)."""
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").open()]
    groups: dict[str, list[str]] = {}
    for q in rows:
        if not q["is_impossible"] and not q["history"]:
            groups.setdefault(q["gold_sentences"][0], []).append(q["question"])
    ordered: list[str] = []
    while any(groups.values()):
        for g in groups.values():
            if g:
                ordered.append(g.pop(0))
    return ordered

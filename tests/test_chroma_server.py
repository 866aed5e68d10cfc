"""The same incremental index against a real Chroma server (`chroma run`), started here."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.ingest.store import Store
from rag.search.retrievers import DenseRetriever
from rag.settings import Settings
from tests.fakes import HashingEmbedder
from tests.test_store import A, B

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    # next to this Python first: the venv's bin/ need not be on PATH
    beside = Path(sys.executable).parent / "chroma"
    exe = str(beside) if beside.exists() else shutil.which("chroma")
    if exe is None:
        pytest.fail("the `chroma` command (from the chromadb package) is not on PATH")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("chroma run did not start")
                time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_incremental_sync_against_a_chroma_server(settings: Settings, chroma_port: int) -> None:
    server = settings.replace(chroma_host="127.0.0.1", chroma_port=chroma_port).index
    (server.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    (server.docs_dir / "b.md").write_text(B, encoding="utf-8")
    first = Store(server, HashingEmbedder()).sync()
    assert first.added == ["a.txt", "b.md"] and first.embedded > 0
    assert not (server.resolved_index_dir() / "chroma").exists()  # vectors live in the server
    again = Store(server, HashingEmbedder()).sync()
    assert again.embedded == 0
    (server.docs_dir / "b.md").unlink()
    store = Store(server, HashingEmbedder())
    assert store.sync().removed == ["b.md"]
    assert store.collection("sentences").count() == 3
    hits = DenseRetriever(store, 3).retrieve("flag dispute")
    assert hits and hits[0].node.node_id.startswith("a.txt#c")


def test_unreachable_server_is_a_clear_error(settings: Settings) -> None:
    from rag.errors import RagError

    bad = settings.replace(chroma_host="127.0.0.1", chroma_port=free_port()).index
    (bad.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    with pytest.raises(RagError, match="chroma run"):
        Store(bad, HashingEmbedder()).sync()

"""The same incremental index against a real Chroma server (`chroma run`), started here."""

from __future__ import annotations

import pytest

from rag.ingest.store import Store
from rag.search.retrievers import DenseRetriever
from rag.settings import Settings
from tests.conftest import free_port
from tests.fakes import HashingEmbedder
from tests.test_store import A, B

pytestmark = pytest.mark.slow


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
    assert store.collection("texts").count() == 1 and store.collection("chunks").count() == 1
    # another process on the same server sees the change at its next refresh
    other = Store(
        settings.replace(chroma_host="127.0.0.1", chroma_port=chroma_port, refresh_seconds=0).index,
        HashingEmbedder(),
    )
    other.open()
    assert set(other.corpus.entries) == {"a.txt"}
    (server.docs_dir / "c.txt").write_text(B, encoding="utf-8")
    store.sync()
    assert other.refresh() and set(other.corpus.entries) == {"a.txt", "c.txt"}
    hits = DenseRetriever(store, 3).retrieve("flag dispute")
    assert hits and hits[0].node.node_id.startswith("a.txt#c")


def test_unreachable_server_is_a_clear_error(settings: Settings) -> None:
    from rag.errors import RagError

    bad = settings.replace(chroma_host="127.0.0.1", chroma_port=free_port()).index
    (bad.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    with pytest.raises(RagError, match="chroma run"):
        Store(bad, HashingEmbedder()).sync()

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import IndexMismatch
from rag.index import Index
from rag.settings import Settings
from tests.fakes import HashingEmbedder

A = "The drills stopped in 2017. A dispute over a flag stalled them. Talks resumed in Nara."
B = "Koizumi met Ahn at Yokosuka. They agreed to exchanges."


def make(settings: Settings) -> tuple[Index, HashingEmbedder]:
    embedder = HashingEmbedder()
    return Index(settings, embedder), embedder


def test_incremental_sync(settings: Settings) -> None:
    docs = settings.docs_dir
    (docs / "a.txt").write_text(A, encoding="utf-8")
    (docs / "b.md").write_text(B, encoding="utf-8")
    index, _ = make(settings)
    first = index.sync()
    assert (first.added, first.updated, first.removed) == (["a.txt", "b.md"], [], [])
    assert first.sentences == 5 and first.embedded == first.chunks + first.sentences
    assert index.collection("chunks").count() == first.chunks
    assert index.collection("sentences").count() == 5

    # unchanged folder, new process: nothing is embedded
    index2, emb2 = make(settings)
    again = index2.sync()
    assert again.embedded == 0 and emb2.embedded == 0 and again.unchanged == 2
    assert again.chunks == first.chunks

    # a changed file is re-embedded alone; a removed one leaves both stores
    (docs / "a.txt").write_text(A + " Ships sailed.", encoding="utf-8")
    (docs / "b.md").unlink()
    changed = index2.sync()
    assert changed.updated == ["a.txt"] and changed.removed == ["b.md"]
    assert changed.embedded == changed.chunks + changed.sentences == emb2.embedded
    assert index2.collection("sentences").count() == 4
    assert not index2.collection("chunks").get(where={"doc_id": "b.md"})["ids"]
    assert set(index2.corpus.entries) == {"a.txt"}


def test_settings_change_rebuilds(settings: Settings) -> None:
    (settings.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    make(settings)[0].sync()
    changed = settings.model_copy(update={"chunk_max_chars": 40})
    report = make(changed)[0].sync()
    assert report.rebuilt and report.embedded > 0


def test_damaged_vector_store_is_rebuilt(settings: Settings) -> None:
    (settings.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    index, _ = make(settings)
    index.sync()
    index._drop_collections()
    report = make(settings)[0].sync()
    assert report.rebuilt and report.embedded > 0


def test_sentence_vectors_and_dense_search(settings: Settings) -> None:
    (settings.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    index, emb = make(settings)
    index.sync()
    ids, matrix = index.sentence_vectors()
    assert len(ids) == 3 and matrix.shape == (3, emb.dim)
    hits = index.dense_chunks(emb.embed(["flag dispute"])[0], k=5)
    assert hits and all(-1.0 <= s <= 1.0001 for _, s in hits)


def test_docs_folders_never_share_an_index(settings: Settings, tmp_path: Path) -> None:
    (settings.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.txt").write_text(B, encoding="utf-8")
    second = settings.model_copy(update={"docs_dir": other})
    assert settings.resolved_index_dir() != second.resolved_index_dir()
    make(settings)[0].sync()
    explicit = second.model_copy(update={"index_dir": settings.resolved_index_dir()})
    with pytest.raises(IndexMismatch, match="built from the docs folder"):
        make(explicit)[0].sync()

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexMismatch
from rag.ingest.keyword import KeywordIndex
from rag.ingest.store import Store
from rag.search.retrievers import DenseRetriever, KeywordRetriever
from rag.settings import Settings
from tests.fakes import HashingEmbedder

A = "The drills stopped in 2017. A dispute over a flag stalled them. Talks resumed in Nara."
B = "Koizumi met Ahn at Yokosuka. They agreed to exchanges."


def make(settings: Settings) -> tuple[Store, HashingEmbedder]:
    embedder = HashingEmbedder()
    return Store(settings.index, embedder), embedder


def test_incremental_sync(settings: Settings) -> None:
    docs = settings.index.docs_dir
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
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    make(settings)[0].sync()
    changed = settings.replace(chunk_max_chars=40)
    report = make(changed)[0].sync()
    assert report.rebuilt and report.embedded > 0


def test_damaged_vector_store_is_rebuilt(settings: Settings) -> None:
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    index, _ = make(settings)
    index.sync()
    index._drop_collections()
    report = make(settings)[0].sync()
    assert report.rebuilt and report.embedded > 0


def test_sentence_vectors_are_those_of_the_sentences(settings: Settings) -> None:
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    store, emb = make(settings)
    store.sync()
    sentences = list(store.corpus.sentences.values())
    wanted = [sentences[2].id, "a.txt#s99", sentences[0].id]  # one unknown id is left out
    ids, matrix = store.sentence_vectors(wanted)
    assert ids == [sentences[2].id, sentences[0].id]
    expected = emb.embed([sentences[2].text, sentences[0].text])
    np.testing.assert_allclose(matrix, expected, atol=1e-6)


def test_dense_and_keyword_retrievers_rank_the_matching_chunk_first(settings: Settings) -> None:
    settings = settings.replace(chunk_max_chars=40, chunk_overlap_sentences=0)  # a chunk each
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    store, _ = make(settings)
    store.sync()
    flag_chunk = next(c.id for c in store.corpus.chunks.values() if "flag" in c.text)
    for retriever in (DenseRetriever(store, 5), KeywordRetriever(store, 5)):
        hits = retriever.retrieve("Which dispute over a flag stalled them?")
        assert hits[0].node.node_id == flag_chunk, type(retriever).__name__
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert KeywordRetriever(store, 5).retrieve("zebra crossing") == []


def test_keyword_index_is_saved_and_loaded_not_rebuilt(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    make(settings)[0].sync()
    assert (settings.index.resolved_index_dir() / "keyword" / "meta.json").is_file()

    def no_build(*args: object, **kwargs: object) -> KeywordIndex:
        raise AssertionError("the keyword index was rebuilt instead of loaded")

    with monkeypatch.context() as m:
        m.setattr(KeywordIndex, "build", classmethod(no_build))
        store, _ = make(settings)
        store.open()
        assert store.keyword_index().search("flag dispute", 3)
    # a changed corpus rebuilds it, once, and saves it again
    (settings.index.docs_dir / "b.txt").write_text(B, encoding="utf-8")
    store, _ = make(settings)
    store.sync()
    assert store.keyword_index().search("Koizumi Yokosuka", 3)[0][0].startswith("b.txt")
    again, _ = make(settings)
    again.open()
    assert again.keyword_index().key == store.keyword_index().key


def test_writes_go_in_batches_within_the_store_limit(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    (settings.index.docs_dir / "b.txt").write_text(B, encoding="utf-8")
    store, _ = make(settings)
    client = store.connect()
    monkeypatch.setattr(client, "get_max_batch_size", lambda: 2)
    sizes: list[int] = []
    collection = store.collection("sentences")
    original = type(collection).add

    def add(self: object, *args: object, **kwargs: object) -> None:
        sizes.append(len(kwargs["ids"]))  # type: ignore[arg-type]
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(collection), "add", add)
    report = store.sync()
    assert report.sentences == 5 and store.collection("sentences").count() == 5
    assert sizes and max(sizes) <= 2


def test_docs_folders_never_share_an_index(settings: Settings, tmp_path: Path) -> None:
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.txt").write_text(B, encoding="utf-8")
    second = settings.replace(docs_dir=other)
    assert settings.index.resolved_index_dir() != second.index.resolved_index_dir()
    make(settings)[0].sync()
    explicit = second.replace(index_dir=settings.index.resolved_index_dir())
    with pytest.raises(IndexMismatch, match="built from the docs folder"):
        make(explicit)[0].sync()

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexMismatch
from rag.ingest import documents
from rag.ingest.keyword import DocChunks, Segment
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
    assert first.sentences == 5 and first.embedded == first.chunks  # sentences: when asked
    assert index.collection("chunks").count() == first.chunks
    assert index.collection("texts").count() == index.collection("docs").count() == 2

    # unchanged folder, new process: nothing is read again or embedded
    index2, emb2 = make(settings)
    again = index2.sync()
    assert again.embedded == 0 and emb2.embedded == 0 and again.unchanged == 2
    assert again.chunks == first.chunks and set(index2.corpus.entries) == {"a.txt", "b.md"}

    # a changed file is re-embedded alone; a removed one leaves every collection
    (docs / "a.txt").write_text(A + " Ships sailed.", encoding="utf-8")
    (docs / "b.md").unlink()
    changed = index2.sync()
    assert changed.updated == ["a.txt"] and changed.removed == ["b.md"]
    assert changed.embedded == changed.chunks == emb2.embedded
    assert not index2.collection("chunks").get(where={"doc_id": "b.md"})["ids"]
    assert index2.collection("texts").count() == index2.collection("docs").count() == 1
    assert set(index2.corpus.entries) == {"a.txt"}
    assert index2.corpus.document("a.txt").text.endswith("Ships sailed.")


def test_settings_change_rebuilds(settings: Settings) -> None:
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    make(settings)[0].sync()
    changed = settings.replace(chunk_max_chars=40)
    report = make(changed)[0].sync()
    assert report.rebuilt and report.embedded > 0


def test_lost_collections_are_filled_again(settings: Settings) -> None:
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    index, _ = make(settings)
    index.sync()
    index.chroma.drop()
    report = make(settings)[0].sync()
    assert report.added == ["a.txt"] and report.embedded > 0


def test_sentence_vectors_are_embedded_when_asked_and_kept(settings: Settings) -> None:
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    store, emb = make(settings)
    store.sync()
    sentences = list(store.corpus.sentences.values())
    wanted = [sentences[2].id, "a.txt#s99", sentences[0].id]  # one unknown id is left out
    before = emb.embedded
    ids, matrix = store.sentence_vectors(wanted)
    assert ids == [sentences[2].id, sentences[0].id] and emb.embedded == before + 2
    expected = emb.embed([sentences[2].text, sentences[0].text])
    np.testing.assert_allclose(matrix, expected, atol=1e-6)
    store.sentence_vectors(wanted)
    assert emb.embedded == before + 4  # the second ask embedded nothing (+2: the check above)
    # another process finds them in the store, and a changed sentence is never served stale
    (settings.index.docs_dir / "a.txt").write_text(A.replace("2017", "2019"), encoding="utf-8")
    other, emb2 = make(settings)
    report = other.sync()
    moved = list(other.corpus.sentences.values())
    ids, matrix = other.sentence_vectors([s.id for s in moved])
    # embedded: the changed sentence, and the one the first store was never asked for
    assert len(ids) == 3 and emb2.embedded == report.embedded + 2
    np.testing.assert_allclose(matrix, emb.embed([s.text for s in moved]), atol=1e-6)


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


def test_keyword_index_is_saved_and_follows_changes_document_by_document(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    make(settings)[0].sync()
    folder = settings.index.resolved_index_dir() / "keyword"
    assert (folder / "keyword.json").is_file()
    built: list[list[str]] = []
    original = Segment.build.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Segment], docs: list[DocChunks]) -> Segment:
        built.append([d.doc_id for d in docs])
        return original(cls, docs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Segment, "build", classmethod(spy))
    store, _ = make(settings)
    store.open()
    assert store.keyword_index().search("flag dispute", 3) and built == []  # loaded, not built
    (settings.index.docs_dir / "b.txt").write_text(B, encoding="utf-8")
    store.sync()
    assert built == [["b.txt"]]  # only the new document was tokenised
    assert store.keyword_index().search("Koizumi Yokosuka", 3)[0][0].startswith("b.txt")
    (settings.index.docs_dir / "a.txt").unlink()
    store.sync()
    assert built == [["b.txt"]] and not store.keyword_index().search("flag dispute", 3)
    again, _ = make(settings)
    again.open()
    assert again.keyword_index().docs() == store.keyword_index().docs() == store.corpus.hashes()


def test_writes_go_in_batches_within_the_store_limit(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.replace(chunk_max_chars=40, chunk_overlap_sentences=0)  # a chunk each
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    (settings.index.docs_dir / "b.txt").write_text(B, encoding="utf-8")
    store, _ = make(settings)
    client = store.connect()
    monkeypatch.setattr(client, "get_max_batch_size", lambda: 2)
    sizes: list[int] = []
    collection = store.collection("chunks")
    original = type(collection).upsert

    def upsert(self: object, *args: object, **kwargs: object) -> None:
        sizes.append(len(kwargs["ids"]))  # type: ignore[arg-type]
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(collection), "upsert", upsert)
    report = store.sync()
    assert report.chunks == 5 and store.collection("chunks").count() == 5
    assert sizes and max(sizes) <= 2


def test_an_interrupted_sync_resumes_where_it_stopped(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.ingest.store

    monkeypatch.setattr(rag.ingest.store, "SLICE", 2)  # commit every two chunks
    settings = settings.replace(chunk_max_chars=40, chunk_overlap_sentences=0)  # a chunk each
    docs = settings.index.docs_dir
    for name, text in (("a.txt", A), ("b.txt", B), ("c.txt", "One more. And another.")):
        (docs / name).write_text(text, encoding="utf-8")
    store, emb = make(settings)

    def stop_after_four(done: int, total: int, what: str) -> None:
        if done >= 4:
            raise KeyboardInterrupt  # Ctrl-C, or a crash, after two slices

    with pytest.raises(KeyboardInterrupt):
        store.sync(stop_after_four)
    assert emb.embedded == 4
    # a new process sees only what was committed: a.txt (3 chunks) is, b.txt (1 of 2) is not
    view, _ = make(settings)
    view.open()
    assert set(view.corpus.entries) == {"a.txt"}
    assert {k for k, _ in view.keyword_index().search("Koizumi flag", 5)} <= set(view.corpus.chunks)
    resumed, emb2 = make(settings)
    report = resumed.sync()
    # b.txt and c.txt were begun (marked "writing") by the interrupted sync
    assert report.resumed == 2 and report.added == [] and report.unchanged == 1
    assert emb2.embedded == 1 + 1  # b.txt's second chunk and c.txt's one; nothing again
    assert resumed.collection("chunks").count() == report.chunks == 6
    assert set(resumed.corpus.entries) == {"a.txt", "b.txt", "c.txt"}


def test_a_running_app_sees_what_another_process_indexed(settings: Settings) -> None:
    (settings.index.docs_dir / "a.txt").write_text(A, encoding="utf-8")
    writer, _ = make(settings)
    writer.sync()
    reader, _ = make(settings.replace(refresh_seconds=0))
    reader.open()
    assert set(reader.corpus.entries) == {"a.txt"}
    assert reader.refresh() is False  # nothing changed
    (settings.index.docs_dir / "b.txt").write_text(B, encoding="utf-8")
    (settings.index.docs_dir / "a.txt").unlink()
    writer.sync()
    assert reader.refresh() is True
    assert set(reader.corpus.entries) == {"b.txt"}
    assert reader.keyword_index().search("Koizumi", 3)[0][0].startswith("b.txt")


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


def test_unchanged_files_are_not_read_and_touched_ones_not_embedded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = settings.index.docs_dir
    (docs / "a.txt").write_text(A, encoding="utf-8")
    (docs / "b.txt").write_text(B, encoding="utf-8")
    make(settings)[0].sync()
    later = (docs / "b.txt").stat().st_mtime_ns + 10**9
    os.utime(docs / "b.txt", ns=(later, later))  # touched: same bytes, new time
    reads: list[str] = []
    original = documents.read_file

    def read_file(path: Path) -> bytes:
        reads.append(path.name)
        return original(path)

    monkeypatch.setattr(documents, "read_file", read_file)
    store, emb = make(settings)
    report = store.sync()
    assert reads == ["b.txt"] and report.unchanged == 2 and emb.embedded == 0
    reads.clear()
    assert make(settings)[0].sync().unchanged == 2 and reads == []  # its new time was kept

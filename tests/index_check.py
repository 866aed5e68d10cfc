"""Is an index consistent? What the crash tests check after every `kill -9`, read straight from
the Chroma collections and the keyword index's files (rag/ingest/chroma.py, keyword.py).

    index_problems(settings)  human-readable problems; [] when every "done" document is whole
    index_digest(settings)    per done document: hash, chunk and sentence counts, and a digest of
                              its chunks as stored (ids, texts, offsets): two indexes of the
                              same folder are equal when their digests are
    expected_digest(docs)     the same, computed from the files alone (no store): a clean ingest

Run as a script (the "next start" after a crash: a new process), it opens the index as the app
and `rag ask` do, checks it, answers a question from it, and prints one line of JSON; with
--sync it then syncs (finishing the work; progress on stderr), checks again and prints a
second line:

    python -m tests.index_check --docs DIR --index DIR [--sync] [--slice N] [--question Q]

Everything is read through a fresh Store, whose fake embedder (tests/fakes.py) is never asked
to embed a chunk unless --sync is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from rag.ingest.chroma import ID_BATCH, DocState, batches
from rag.ingest.corpus import DocEntry, entry_from_record, segment
from rag.ingest.keyword import KeywordIndex
from rag.ingest.store import Store
from rag.settings import IndexSettings, Settings
from tests.fakes import HashingEmbedder


def _index_settings(settings: Settings | IndexSettings) -> IndexSettings:
    return settings.index if isinstance(settings, Settings) else settings


def _store(settings: Settings | IndexSettings) -> Store:
    return Store(_index_settings(settings), HashingEmbedder())


def _chunk_rows(store: Store) -> dict[str, dict[str, Any]]:
    """Every row of the chunks collection: id -> metadata, text, and whether it has a vector."""
    chunks = store.collection("chunks")
    got = chunks.get(include=["metadatas", "documents", "embeddings"])
    rows = {}
    for i, chunk_id in enumerate(got["ids"]):
        vec = got["embeddings"][i] if got["embeddings"] is not None else None
        rows[chunk_id] = {
            "meta": got["metadatas"][i] or {},
            "text": got["documents"][i],
            "dim": 0 if vec is None else len(vec),
        }
    return rows


def _chunk_digest(rows: list[tuple[str, str, int, int]]) -> str:
    return hashlib.sha256(json.dumps(sorted(rows)).encode()).hexdigest()[:16]


def _entry_digest(e: DocEntry) -> dict[str, Any]:
    rows = [(c.id, c.text, c.start, c.end) for c in e.chunks]
    return {
        "hash": e.document.content_hash,
        "chunks": len(e.chunks),
        "sentences": len(e.sentences),
        "digest": _chunk_digest(rows),
    }


def index_problems(
    settings: Settings | IndexSettings,
    *,
    finished: bool = False,
    keyword: bool = True,
    store: Store | None = None,
) -> list[str]:
    """What is wrong with the index: [] when it is consistent.

    Always checked: every "done" document has its text record, of its hash, whose sentence
    offsets slice its text and whose chunk layout has as many chunks as its state says; its
    chunks in the chunks collection are exactly ids #c0..#c(n-1), all of its hash, each with a
    vector and the text its offsets slice; no chunk belongs to a document without a state; the
    vector index answers a query for each done document's first chunk (with distance ~0).
    `finished`: after a sync that ran to the end, every state is "done".
    `keyword`: the keyword index on disk lists exactly the done documents (it lags a crash until
    some process loads its view, which follows and saves it: check it after that).
    `store`: a Store to read through (else a fresh one)."""
    store = store or _store(settings)
    problems: list[str] = []
    states: dict[str, DocState] = store.chroma.states()
    done = {d: s for d, s in states.items() if s.state == "done"}
    if finished:
        problems += [
            f"{d}: state {s.state!r} after a finished sync"
            for d, s in states.items()
            if s.state != "done"
        ]
    texts = store.collection("texts")
    records: dict[str, dict[str, Any]] = {}
    for part in batches(sorted(done), ID_BATCH):
        got = texts.get(ids=list(part), include=["metadatas"])
        records.update(zip(got["ids"], got["metadatas"], strict=True))
    entries: dict[str, DocEntry] = {}
    for d, s in sorted(done.items()):
        record = records.get(d)
        if record is None:
            problems.append(f"{d}: done, but has no text record")
            continue
        if record.get("hash") != s.hash:
            problems.append(f"{d}: done at {s.hash[:8]}, its text record is of another hash")
            continue
        try:
            e = entry_from_record(d, record)
        except Exception as exc:  # a torn record
            problems.append(f"{d}: its text record does not load: {exc!r}")
            continue
        entries[d] = e
        if len(e.chunks) != s.chunks or len(e.sentences) != s.sentences:
            problems.append(
                f"{d}: state says {s.chunks} chunks, {s.sentences} sentences; its record has "
                f"{len(e.chunks)}, {len(e.sentences)}"
            )
        for sent in e.sentences:
            if sent.text != e.document.text[sent.start : sent.end] or not sent.text.strip():
                problems.append(f"{d}: sentence {sent.id} does not slice its text")
                break
    rows = _chunk_rows(store)
    by_doc: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for chunk_id, row in rows.items():
        by_doc[str(row["meta"].get("doc_id"))][chunk_id] = row
    for d, found in sorted(by_doc.items()):
        if d not in states:
            problems.append(f"{d}: {len(found)} chunks, but the document has no state (orphans)")
    for d, s in sorted(done.items()):
        found = by_doc.get(d, {})
        want = {f"{d}#c{i}" for i in range(s.chunks)}
        if set(found) != want:
            missing, extra = len(want - set(found)), len(set(found) - want)
            problems.append(
                f"{d}: done with {s.chunks} chunks; the chunks collection has {len(found)} "
                f"({missing} missing, {extra} not of this version)"
            )
        stale = sorted(c for c, r in found.items() if r["meta"].get("hash") != s.hash)
        if stale:
            problems.append(f"{d}: {len(stale)} chunks of another hash than the done one")
        novec = sorted(c for c, r in found.items() if not r["dim"])
        if novec:
            problems.append(f"{d}: {len(novec)} chunks without a vector")
        e = entries.get(d)
        if e is not None:
            for c in e.chunks:
                row = found.get(c.id)
                if row is not None and (
                    row["text"] != c.text or row["meta"].get("start") != c.start
                ):
                    problems.append(f"{d}: chunk {c.id} as stored is not the slice its layout says")
                    break
    problems += _vector_problems(store, done, by_doc)
    if keyword:
        kw = KeywordIndex.load(store.dir / "keyword").docs()
        want_kw = {d: s.hash for d, s in done.items()}
        if kw != want_kw:
            extra = sorted(d for d in kw if want_kw.get(d) != kw[d])
            missing = sorted(d for d in want_kw if kw.get(d) != want_kw[d])
            problems.append(
                f"keyword index: {len(kw)} documents, {len(want_kw)} done; "
                f"not done there: {extra}; done, missing there: {missing}"
            )
    return problems


def _vector_problems(
    store: Store, done: dict[str, DocState], by_doc: dict[str, dict[str, dict[str, Any]]]
) -> list[str]:
    """The vector index (HNSW), not only the metadata, holds each done document: a query with
    its first chunk's own vector, within the document, finds a chunk at distance ~0."""
    problems = []
    chunks = store.collection("chunks")
    firsts = [f"{d}#c0" for d in sorted(done) if f"{d}#c0" in by_doc.get(d, {})]
    if not firsts:
        return []
    got = chunks.get(ids=firsts, include=["embeddings", "metadatas"])
    for chunk_id, vec, meta in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True):
        doc_id = meta["doc_id"]
        hit = chunks.query(query_embeddings=[vec], n_results=1, where={"doc_id": doc_id})
        if not hit["ids"][0] or hit["distances"][0][0] > 1e-3:
            problems.append(f"{doc_id}: the vector index does not find its chunk {chunk_id}")
    return problems


def index_digest(settings: Settings | IndexSettings, store: Store | None = None) -> dict[str, Any]:
    """Per done document, what a clean ingest of the same files would store (see module doc)."""
    store = store or _store(settings)
    done = {d: s for d, s in store.chroma.states().items() if s.state == "done"}
    rows = _chunk_rows(store)
    per_doc: dict[str, list[tuple[str, str, int, int]]] = defaultdict(list)
    for chunk_id, row in rows.items():
        m = row["meta"]
        if m.get("doc_id") in done and m.get("hash") == done[m["doc_id"]].hash:
            per_doc[m["doc_id"]].append((chunk_id, row["text"], m["start"], m["end"]))
    return {
        d: {
            "hash": s.hash,
            "chunks": s.chunks,
            "sentences": s.sentences,
            "digest": _chunk_digest(per_doc[d]),
        }
        for d, s in sorted(done.items())
    }


def expected_digest(settings: Settings | IndexSettings) -> dict[str, Any]:
    """index_digest of a clean, finished ingest of the docs folder, from the files alone."""
    from rag.ingest.documents import scan_documents

    index = _index_settings(settings)
    scan = scan_documents(index.docs_dir, {}, False)
    cut = index.chunk_max_chars, index.chunk_overlap_sentences
    return {
        d.doc_id: _entry_digest(segment(d, *cut)) for d in sorted(scan.docs, key=lambda d: d.doc_id)
    }


def _serve(engine: Any, question: str) -> dict[str, Any]:
    """Answer a question from the opened view, as `rag ask` does (extractive writer); its
    citations must slice the texts of the view."""
    out = engine.answer(question).to_json()
    texts = {d: e.document.text for d, e in engine.store.corpus.entries.items()}
    bad = [
        c
        for c in out["citations"]
        if texts.get(c["doc_id"], "")[c["start"] : c["end"]] != c["text"]
    ]
    cited = sorted({c["doc_id"] for c in out["citations"]})
    return {"refused": out["refused"], "cited": cited, "bad_citations": len(bad)}


def main(argv: list[str] | None = None) -> int:
    import rag.ingest.store
    from rag.engine import Engine

    p = argparse.ArgumentParser()
    p.add_argument("--docs", required=True)
    p.add_argument("--index", required=True)
    p.add_argument("--sync", action="store_true", help="then sync, and check again")
    p.add_argument("--slice", type=int, default=0, help="rag.ingest.store.SLICE for the sync")
    p.add_argument("--question", default="", help="answer it from the view opened")
    p.add_argument(
        "--adopt-fingerprint",
        action="store_true",
        help="read an index the real embedder built: the fake takes its name (embeds nothing)",
    )
    args = p.parse_args(argv)
    if args.slice:
        rag.ingest.store.SLICE = args.slice
    settings = Settings.load(
        docs_dir=Path(args.docs),
        index_dir=Path(args.index),
        answerer="extractive",
        condense="rules",
    )
    fake = HashingEmbedder()
    engine = Engine(settings, embedder=fake)
    store = engine.store
    if args.adopt_fingerprint:
        fingerprint = json.loads(store.chroma.meta().get("fingerprint") or "{}")
        fake.name = fingerprint.get("embedder", fake.name)  # type: ignore[misc]
        engine = Engine(settings, embedder=fake)
        store = engine.store
    # the next start: the view of what is committed (it follows the keyword index, and saves it)
    raw_keyword = KeywordIndex.load(store.dir / "keyword").docs()
    store.open()
    out: dict[str, Any] = {
        "states": {d: s.state for d, s in sorted(store.chroma.states().items())},
        "view": store.corpus.hashes(),
    }
    out["keyword_lagged"] = raw_keyword != out["view"]
    out["raw_keyword"] = raw_keyword  # as the crash left it on disk
    out["problems"] = index_problems(settings, store=store)
    view_kw = store.keyword_index().docs()
    if view_kw != out["view"]:
        out["problems"].append(f"the view's keyword index holds {sorted(view_kw)}")
    if args.question:
        out["answer"] = _serve(engine, args.question)
    out["digest"] = index_digest(settings, store=store)
    print(json.dumps(out), flush=True)  # line 1: the index as found
    if args.sync:

        def progress(done: int, total: int, what: str) -> None:
            print(f"{what}: {done}/{total}", file=sys.stderr, flush=True)

        report = store.sync(progress)
        after = index_problems(settings, finished=True, store=store)
        if store.corpus.hashes() != {d: s.hash for d, s in store.chroma.states().items()}:
            after.append("the view after the sync is not every document done")
        done = {
            "summary": report.summary(),
            "resumed": report.resumed,
            "embedded": report.embedded,
            "problems": after,
            "digest": index_digest(settings, store=store),
        }
        print(json.dumps(done), flush=True)  # line 2: after the sync finished the work
    return 0


if __name__ == "__main__":
    sys.exit(main())

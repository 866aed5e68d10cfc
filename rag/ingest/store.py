"""The index of a docs folder: incremental, resumable sync, and this process's view of it.
Chroma (rag/ingest/chroma.py) is the index's source of truth, in the embedded store and on a
Chroma server alike; each process keeps a view of it (the corpus, the keyword index) and
refreshes that view when another process changed the index.

Three collections, named rag_<key>_<kind>:
  chunks  chunk vectors, texts and metadata (doc_id, hash, offsets): what dense retrieval
          searches, through LlamaIndex's ChromaVectorStore
  texts   per document: its extracted text, page starts, sentence offsets and chunk layout
  docs    per document: its content hash, file size and time, chunk count and state, "writing"
          until its text and every chunk are written, then "done". The collection's metadata
          holds the index's fingerprint and a generation token that changes with every commit
          (what refreshes poll).
  sentvec sentence vectors, embedded when evidence scoring first needs them
          (rag/ingest/sentence_vectors.py)

A document is indexed when its docs record says "done", and a sync writes it in this order:
docs "writing" (with the new hash), chunks of other versions deleted, chunk vectors in batches
within the store's limit, text, docs "done" (the commit). A crash at any point leaves it
"writing"; the next sync keeps the chunks already written for that version and embeds only
the rest. A removal goes "removing", then vectors and text, then the docs record.

Questions go on while a sync writes, in this process or another: each reads a View (the corpus
and keyword index as of one generation), swapped whole when a document commits. A document
being rewritten is answered as last committed (its text record is replaced only at the commit)
until its new version is; one process syncs an index at a time (rag/ingest/lock.py).

The index folder holds `index.json` (the docs folder it serves), `keyword/` (the keyword index,
kept in step with the corpus) and, unless a Chroma server is configured, `chroma/` (the
embedded database).
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rag.errors import IndexMismatch
from rag.ingest.chroma import ID_BATCH, ChromaIndex, DocState, batches, marker
from rag.ingest.corpus import Corpus, DocEntry, entry_from_record, entry_record, segment
from rag.ingest.documents import scan_documents
from rag.ingest.keyword import DocChunks, KeywordIndex
from rag.ingest.lock import IndexBusy, ingest_lock
from rag.ingest.report import SyncReport
from rag.ingest.sentence_vectors import SentenceVectors
from rag.ingest.sentences import SPLITTER_VERSION
from rag.models.embedder import Embedder
from rag.settings import IndexSettings

log = logging.getLogger(__name__)

FORMAT = 3  # 3: Chroma holds the corpus; sentence vectors are embedded when asked
Progress = Callable[[int, int, str], None]  # (done, total, what)
SLICE = 512  # texts embedded, then written, at a time: what a crash can lose


@dataclass(frozen=True)
class View:
    """What this process answers from: the documents indexed and their keyword index, as of one
    generation of the store. A View is never changed: a change makes a new one, swapped in
    whole, so a question that took it reads one consistent state from start to end, whatever a
    sync does meanwhile."""

    corpus: Corpus
    keyword: KeywordIndex
    generation: str | None = None


def _committed(state: DocState | None) -> str:
    """The hash of the version of a document last committed ("" for none)."""
    if state is None:
        return ""
    return state.hash if state.state == "done" else state.committed


def _doc_chunks(e: DocEntry) -> DocChunks:
    """What the keyword index takes of a document."""
    ids, texts = [c.id for c in e.chunks], [c.text for c in e.chunks]
    return DocChunks(e.document.doc_id, e.document.content_hash, ids, texts)


class Store:
    def __init__(self, settings: IndexSettings, embedder: Embedder):
        self.settings = settings
        self.embedder = embedder
        self.dir = settings.resolved_index_dir()
        self.docs_dir = settings.docs_dir.resolve()
        self.fingerprint = json.dumps(
            {
                "format": FORMAT,
                "splitter": SPLITTER_VERSION,
                "embedder": embedder.name,
                "chunk_max_chars": settings.chunk_max_chars,
                "chunk_overlap_sentences": settings.chunk_overlap_sentences,
            },
            sort_keys=True,
        )
        # replicas on one server share the collections of a docs folder, whatever their cache
        key = [str(self.docs_dir)] + ([] if settings.chroma_host else [str(self.dir.resolve())])
        self.collection_prefix = "rag_" + hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
        self.chroma = ChromaIndex(settings, self.collection_prefix, self.dir / "chroma")
        self._view: View | None = None  # loaded when first needed
        # One sync at a time in this process (ingest_lock keeps other processes out), and one
        # change of the view; questions take neither, they read whichever View is current.
        self._sync_lock = threading.Lock()
        self._view_lock = threading.Lock()
        self._sentence_vectors = SentenceVectors(self.chroma, embedder)
        self._checked = 0.0  # when refresh last asked the store

    # -- Chroma (rag/ingest/chroma.py) ---------------------------------------------------------

    def connect(self) -> Any:
        return self.chroma.connect()

    def collection(self, kind: str) -> Any:
        return self.chroma.collection(kind)

    def chunk_store(self) -> Any:
        return self.chroma.chunk_store()

    # -- the index folder ---------------------------------------------------------------------

    def _claim_folder(self) -> None:
        """The index folder serves one docs folder; say so when asked to serve another."""
        path = self.dir / "index.json"
        try:
            served = json.loads(path.read_text(encoding="utf-8")).get("docs_dir")
        except (OSError, ValueError):
            served = None
        if served is not None and served != str(self.docs_dir):
            raise IndexMismatch(
                f"the index at '{self.dir}' was built from the docs folder "
                f"'{served}', not '{self.docs_dir}'; pass another --index "
                "(or leave it out to get one per docs folder)"
            )
        if served is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"docs_dir": str(self.docs_dir)}), encoding="utf-8")

    # -- the view: corpus and keyword index -----------------------------------------------------

    @property
    def view(self) -> View:
        """The index as this process sees it now (loaded on first use)."""
        view = self._view
        if view is None:
            with self._view_lock:
                if self._view is None:
                    self._load()
                view = self._view
        assert view is not None
        return view

    @property
    def corpus(self) -> Corpus:
        """The documents indexed, as this process sees them."""
        return self.view.corpus

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index of the corpus's chunks."""
        return self.view.keyword

    def open(self) -> None:
        """Load the view of the index as last synced (no document is read, nothing embedded)."""
        self._claim_folder()
        with self._view_lock:
            self._load()

    def refresh(self, force: bool = False) -> bool:
        """Take in what other processes indexed since the view was loaded, checked at most every
        refresh_seconds. True when the view changed. Skipped while another thread changes the
        view: a question never waits for that."""
        now = time.monotonic()
        if not force and now - self._checked < self.settings.refresh_seconds:
            return False
        if not self._view_lock.acquire(blocking=False):
            return False
        try:
            self._checked = now
            try:
                meta = self.chroma.meta()
            except Exception:  # the server is away: keep ours
                log.warning("could not check the index for changes", exc_info=True)
                return False
            if self._view is not None and meta.get("generation") == self._view.generation:
                return False
            return self._load(meta)
        finally:
            self._view_lock.release()

    def _load(
        self, meta: dict[str, Any] | None = None, keyword: KeywordIndex | None = None
    ) -> bool:
        """Under the view lock: a new view, in step with the documents the store says are done
        (and with `keyword`, the keyword index a sync just made, when given)."""
        meta = self.chroma.meta() if meta is None else meta
        old = self._view
        corpus = old.corpus if old else Corpus()
        have = corpus.hashes()
        want: dict[str, str] = {}
        if meta.get("fingerprint") not in (None, self.fingerprint):
            log.warning("the index was built with other settings; `rag ingest` rebuilds it")
        elif meta:
            states = self.chroma.states(meta)
            want = {d: s.hash for d, s in states.items() if s.state == "done"}
            # a document being rewritten is answered as last committed until the new version is
            want |= {
                d: s.committed for d, s in states.items() if s.state == "writing" and s.committed
            }
        gone = [d for d, h in have.items() if want.get(d) != h]
        new = sorted(d for d, h in want.items() if have.get(d) != h)
        records = self.chroma.records({d: want[d] for d in new})
        entries = [entry_from_record(d, r) for d, r in records.items()]
        changed = bool(gone or entries)
        if changed:
            corpus = corpus.updated(gone, entries)
        if keyword is None:
            keyword = old.keyword if old else KeywordIndex.load(self.dir / "keyword")
        followed = keyword.followed(corpus.hashes(), lambda d: _doc_chunks(corpus.entries[d]))
        if followed is not keyword:
            followed.save(self.dir / "keyword")
        self._view = View(corpus, followed, meta.get("generation"))
        if changed:
            # The view's records live long and hold no reference cycles: out of the cycle
            # collector's reach, they spare a full collection (0.3-0.6 s over 240,000
            # sentences) in the middle of a question or a removal. Refcounting still frees them.
            gc.freeze()
        return changed

    def sentence_vectors(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """The vectors of these sentences (rows, in the order of the ids returned: those the
        corpus holds); see rag/ingest/sentence_vectors.py."""
        return self._sentence_vectors.of(self.corpus.sentences, ids)

    # -- sync ---------------------------------------------------------------------------------

    def sync(
        self, progress: Progress | None = None, allow_empty: bool = False, wait: bool = True
    ) -> SyncReport:
        """Bring the index in step with the docs folder: only new, changed and unfinished files
        are read and embedded, and each document is committed as soon as it is written.
        A folder with no readable document is an error unless `allow_empty`. One sync at a
        time per index: another waits for it, or, without `wait`, raises IndexBusy."""
        if not self._sync_lock.acquire(blocking=wait):
            raise IndexBusy("this process is already updating the index")
        try:
            with ingest_lock(self.dir, wait):
                return self._sync(progress, allow_empty)
        finally:
            self._sync_lock.release()

    def _sync(self, progress: Progress | None, allow_empty: bool) -> SyncReport:
        t0 = time.perf_counter()
        self._claim_folder()
        report = SyncReport()
        meta = self.chroma.meta()
        if meta.get("fingerprint", self.fingerprint) != self.fingerprint:
            log.warning("the index was built with other settings; rebuilding it")
            self.chroma.drop()
            meta = {}
            report.rebuilt = True
        states = self.chroma.states(meta)
        if not meta.get("fingerprint") and not report.rebuilt:
            self.chroma.commit(self.fingerprint)  # a new index: record its fingerprint
        done = {d: s for d, s in states.items() if s.state == "done"}
        known = {d: (s.hash, s.size, s.mtime) for d, s in done.items()}
        scan = scan_documents(self.settings.docs_dir, known, allow_empty)
        report.skipped = scan.skipped
        present = set(scan.unchanged) | {d.doc_id for d in scan.docs}
        report.removed = sorted(d for d in states if d not in present)
        report.added = sorted(d.doc_id for d in scan.docs if d.doc_id not in states)
        report.updated = sorted(d.doc_id for d in scan.docs if d.doc_id in done)
        report.resumed = sum(1 for d in scan.docs if d.doc_id in states and d.doc_id not in done)
        report.unchanged = len(scan.unchanged)
        if scan.touched:  # same bytes, new modification time: remember it, to skip reading
            touched = {}
            for d in scan.touched:
                size, mtime = scan.stats[d]
                touched[d] = replace(done[d], size=size, mtime=mtime)
            self.chroma.set_states(touched)
        if report.removed:
            self.chroma.remove({d: states[d] for d in report.removed})
        cut = self.settings.chunk_max_chars, self.settings.chunk_overlap_sentences
        entries = [segment(d, *cut) for d in scan.docs]
        if entries:
            report.embedded = self._write(entries, states, scan.stats, progress)
        keyword = None
        if report.removed or entries:  # the keyword index follows, ready for the next question
            base = self._view.keyword if self._view else KeywordIndex.load(self.dir / "keyword")
            keyword = base.branch()
            rewritten = [e.document.doc_id for e in entries]  # any version it held goes
            keyword.update([_doc_chunks(e) for e in entries], report.removed + rewritten)
            keyword.save(self.dir / "keyword")
        if report.removed or scan.docs or report.rebuilt:
            self.chroma.commit(self.fingerprint)
        if self._view is not None:  # a view in use follows at once; else it loads when needed
            with self._view_lock:
                self._load(keyword=keyword)
        indexed = [s for s in self.chroma.states().values() if s.state == "done"]
        report.sentences = sum(max(s.sentences, 0) for s in indexed)
        report.chunks = sum(max(s.chunks, 0) for s in indexed)
        report.seconds = time.perf_counter() - t0
        return report

    def _write(
        self,
        entries: Sequence[DocEntry],
        states: dict[str, DocState],
        stats: dict[str, tuple[int, int]],
        progress: Progress | None,
    ) -> int:
        """Write these documents, committing each once its text and chunks are all in."""
        writing = {
            e.document.doc_id: DocState(
                e.document.content_hash,
                "writing",
                *stats[e.document.doc_id],
                len(e.chunks),
                len(e.sentences),
                _committed(states.get(e.document.doc_id)),
            )
            for e in entries
        }
        self.chroma.set_states(writing)
        chunks = self.collection("chunks")
        for doc_id, new in ((d, s) for d, s in writing.items() if d in states):
            old = states[doc_id]  # what the earlier version left: ids past the new end, or
            if old.state == "done" and old.chunks >= 0:  # all of another hash after a crash
                excess = [f"{doc_id}#c{i}" for i in range(new.chunks, old.chunks)]
                if excess:
                    chunks.delete(ids=excess)
            else:
                chunks.delete(where={"$and": [{"doc_id": doc_id}, {"hash": {"$ne": new.hash}}]})
        written: set[str] = set()
        resumed = [d for d, s in writing.items() if d in states and states[d].hash == s.hash]
        for part in batches(resumed, ID_BATCH):
            written.update(chunks.get(where={"doc_id": {"$in": list(part)}}, include=[])["ids"])
        todo = [(e, c) for e in entries for c in e.chunks if c.id not in written]
        left = Counter(e.document.doc_id for e, _ in todo)
        by_id = {e.document.doc_id: e for e in entries}
        self._finish(by_id, {d: s for d, s in writing.items() if not left[d]})  # all embedded
        from tqdm import tqdm

        with tqdm(total=len(todo), desc="embedding", unit="chunk", disable=None) as bar:
            if progress:
                progress(0, len(todo), "embedding")
            for n, part in enumerate(batches(todo, SLICE)):
                self._add_chunks(part)
                for e, _ in part:
                    left[e.document.doc_id] -= 1
                ids = {e.document.doc_id for e, _ in part}
                self._finish(by_id, {d: writing[d] for d in ids if not left[d]})
                bar.update(len(part))
                if progress:
                    progress(min((n + 1) * SLICE, len(todo)), len(todo), "embedding")
        return len(todo)

    def _finish(self, entries: dict[str, DocEntry], docs: dict[str, DocState]) -> None:
        """Commit these documents, whose chunks are all written: their text, then their state.
        Until then the text of the version last committed stays, for the views answering
        from it."""
        if not docs:
            return
        part_size = min(ID_BATCH, self.connect().get_max_batch_size())
        for part in batches(sorted(docs), part_size):
            self.collection("texts").upsert(
                ids=list(part),
                embeddings=[marker(d) for d in part],
                metadatas=[entry_record(entries[d]) for d in part],
            )
        self.chroma.set_states({d: replace(s, state="done") for d, s in docs.items()})
        self.chroma.commit(self.fingerprint)

    def _add_chunks(self, part: Sequence[tuple[DocEntry, Any]]) -> None:
        """Embed these chunks (longest first: batches of like lengths pad least) and write
        them."""
        order = sorted(range(len(part)), key=lambda i: -len(part[i][1].text))
        vectors = self.embedder.embed([part[i][1].text for i in order])
        chunks = [(part[i][0].document.content_hash, part[i][1]) for i in order]
        self.chroma.write_chunks(chunks, vectors)

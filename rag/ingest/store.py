"""The only module that talks to chromadb: keeps Chroma, the corpus file and the keyword
index in step with a docs folder, incrementally by content hash.

Layout of an index folder:
  corpus.json  fingerprint, docs folder, and each document's text, sentence offsets, chunks
  keyword/     the BM25 keyword index of the chunks (rag/ingest/keyword.py)
  chroma/      the embedded Chroma database (unless a Chroma server is configured)
Chroma holds two collections: chunk vectors (what dense retrieval searches, through LlamaIndex's
ChromaVectorStore) and sentence vectors (what evidence scoring compares the question with,
fetched for the retrieved chunks' sentences only).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexMismatch, RagError
from rag.ingest.corpus import Corpus, DocEntry, segment
from rag.ingest.documents import Skipped, read_documents
from rag.ingest.keyword import KeywordIndex
from rag.ingest.sentences import SPLITTER_VERSION
from rag.models.embedder import Embedder
from rag.settings import IndexSettings
from rag.types import Document

log = logging.getLogger(__name__)

FORMAT = 2  # 2: documents of any format, with a PDF's page offsets
Progress = Callable[[int, int, str], None]  # (done, total, what)


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unchanged: int = 0
    sentences: int = 0
    chunks: int = 0
    embedded: int = 0  # texts embedded by this sync; 0 when nothing changed
    rebuilt: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"documents: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.removed)} removed, {self.unchanged} unchanged, "
            f"{len(self.skipped)} skipped; "
            f"{self.sentences} sentences, {self.chunks} chunks; "
            f"{self.embedded} texts embedded{' (rebuilt)' if self.rebuilt else ''}; "
            f"{self.seconds:.2f} s"
        )


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    def __init__(self, settings: IndexSettings, embedder: Embedder):
        self.settings = settings
        self.embedder = embedder
        self.dir = settings.resolved_index_dir()
        self.docs_dir = settings.docs_dir.resolve()
        self.fingerprint = {
            "format": FORMAT,
            "splitter": SPLITTER_VERSION,
            "embedder": embedder.name,
            "chunk_max_chars": settings.chunk_max_chars,
            "chunk_overlap_sentences": settings.chunk_overlap_sentences,
        }
        key = json.dumps([str(self.docs_dir), str(self.dir.resolve())]).encode()
        self.collection_prefix = "rag_" + hashlib.sha256(key).hexdigest()[:16]
        self.corpus = Corpus()
        self._client: Any = None
        self._collections: dict[str, Any] = {}  # Chroma collection handles, and LlamaIndex's view
        self._keyword: KeywordIndex | None = None
        self._sentence_vectors: dict[str, np.ndarray] = {}  # cache of fetched vectors

    # -- Chroma -------------------------------------------------------------------------------

    def connect(self) -> Any:
        """The Chroma client (made on first use; raises RagError when the server is down)."""
        if self._client is None:
            import chromadb

            if self.settings.chroma_host:
                try:
                    self._client = chromadb.HttpClient(
                        host=self.settings.chroma_host, port=self.settings.chroma_port
                    )
                    self._client.heartbeat()
                except Exception as exc:
                    raise RagError(
                        f"cannot reach the Chroma server at {self.settings.chroma_host}:"
                        f"{self.settings.chroma_port}; start it with `chroma run --path DIR "
                        "--port PORT` or unset RAG_CHROMA_HOST to use the embedded store"
                    ) from exc
            else:
                self._client = chromadb.PersistentClient(path=str(self.dir / "chroma"))
        return self._client

    def collection(self, kind: str) -> Any:
        """kind is "chunks" or "sentences"."""
        if kind not in self._collections:
            self._collections[kind] = self.connect().get_or_create_collection(
                f"{self.collection_prefix}_{kind}", metadata={"hnsw:space": "cosine"}
            )
        return self._collections[kind]

    def chunk_store(self) -> Any:
        """LlamaIndex's view of the chunk collection (one per collection handle)."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        if "chunk_store" not in self._collections:
            self._collections["chunk_store"] = ChromaVectorStore(
                chroma_collection=self.collection("chunks")
            )
        return self._collections["chunk_store"]

    def _drop_collections(self) -> None:
        for kind in ("chunks", "sentences"):
            with contextlib.suppress(Exception):
                self.connect().delete_collection(f"{self.collection_prefix}_{kind}")
        self._collections.clear()

    # -- corpus file --------------------------------------------------------------------------

    def _load_corpus_file(self) -> dict[str, Any] | None:
        path = self.dir / "corpus.json"
        if not path.exists():
            return None
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("index file %s is unreadable; rebuilding the index", path)
            return None
        if data.get("docs_dir") != str(self.docs_dir):
            raise IndexMismatch(
                f"the index at '{self.dir}' was built from the docs folder "
                f"'{data.get('docs_dir')}', not '{self.docs_dir}'; pass another --index "
                "(or leave it out to get one per docs folder)"
            )
        return data

    def _save_corpus_file(self) -> None:
        data = {
            "fingerprint": self.fingerprint,
            "docs_dir": str(self.docs_dir),
            "documents": self.corpus.to_json(),
        }
        _atomic_write(self.dir / "corpus.json", json.dumps(data, ensure_ascii=False))

    def open(self) -> None:
        """Load the corpus as last synced (no document is read, nothing is embedded)."""
        data = self._load_corpus_file()
        if data is None or data.get("fingerprint") != self.fingerprint:
            self.corpus = Corpus()
        else:
            self.corpus = Corpus.from_json(data["documents"])
        self._changed()

    # -- sync ---------------------------------------------------------------------------------

    def _consistent(self) -> bool:
        """Does Chroma hold exactly the vectors the corpus file says it does?"""
        expected_chunks = sum(len(e.chunks) for e in self.corpus.entries.values())
        expected_sentences = len(self.corpus.sentences)
        return bool(
            self.collection("chunks").count() == expected_chunks
            and self.collection("sentences").count() == expected_sentences
        )

    def sync(self, progress: Progress | None = None, allow_empty: bool = False) -> SyncReport:
        """Bring the index in step with the docs folder; only new and changed files are embedded.
        A folder with no readable document is an error unless `allow_empty` (the chat lets the
        user remove the last document)."""
        t0 = time.perf_counter()
        data = self._load_corpus_file()
        fresh = data is None or data.get("fingerprint") != self.fingerprint
        report = SyncReport(rebuilt=data is not None and fresh)  # model or chunking changed
        self.corpus = Corpus() if fresh or data is None else Corpus.from_json(data["documents"])
        if not fresh and not self._consistent():
            log.warning("the vector store does not match the index file; rebuilding it")
            report.rebuilt = fresh = True
            self.corpus = Corpus()
        docs, report.skipped = read_documents(self.settings.docs_dir, allow_empty, self._known)
        if fresh:
            self._drop_collections()
        current = {d.doc_id: d for d in docs}
        old = self.corpus.entries
        report.removed = sorted(set(old) - set(current))
        report.added = sorted(set(current) - set(old))
        report.updated = sorted(
            d
            for d in set(current) & set(old)
            if current[d].content_hash != old[d].document.content_hash
        )
        report.unchanged = len(current) - len(report.added) - len(report.updated)
        changed = report.added + report.updated
        if fresh or report.removed or changed:
            for doc_id in report.removed + changed:
                self._delete_doc(doc_id)  # also clears what a crashed sync may have left
                self.corpus.entries.pop(doc_id, None)
            entries = [
                segment(
                    current[d], self.settings.chunk_max_chars, self.settings.chunk_overlap_sentences
                )
                for d in changed
            ]
            report.embedded = self._embed_and_store(entries, progress)
            self.corpus.entries.update((e.document.doc_id, e) for e in entries)
            self.corpus.entries = dict(sorted(self.corpus.entries.items()))
            self.corpus.reindex()
            self._save_corpus_file()
            self._changed()
            self.keyword_index()  # rebuilt and saved for the new corpus
        report.sentences = len(self.corpus.sentences)
        report.chunks = len(self.corpus.chunks)
        report.seconds = time.perf_counter() - t0
        return report

    def _known(self, doc_id: str, content_hash: str) -> Document | None:
        """The document as indexed, when the file still has these bytes (not extracted again)."""
        entry = self.corpus.entries.get(doc_id)
        return entry.document if entry and entry.document.content_hash == content_hash else None

    def _delete_doc(self, doc_id: str) -> None:
        for kind in ("chunks", "sentences"):
            self.collection(kind).delete(where={"doc_id": doc_id})

    def _embed_and_store(self, entries: Sequence[DocEntry], progress: Progress | None) -> int:
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        chunks = [c for e in entries for c in e.chunks]
        sentences = [s for e in entries for s in e.sentences]
        texts = [c.text for c in chunks] + [s.text for s in sentences]
        vectors = self._embed_with_progress(texts, progress)
        nodes = []
        for chunk, vec in zip(chunks, vectors[: len(chunks)], strict=True):
            node = TextNode(
                id_=chunk.id,
                text=chunk.text,
                embedding=vec.tolist(),
                metadata={
                    "doc_id": chunk.doc_id,
                    "start": chunk.start,
                    "end": chunk.end,
                    "sentence_ids": json.dumps(chunk.sentence_ids),
                },
            )
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.doc_id)
            nodes.append(node)
        batch = self.connect().get_max_batch_size()
        for lo in range(0, len(nodes), batch):
            self.chunk_store().add(nodes[lo : lo + batch])
        for lo in range(0, len(sentences), batch):
            part = sentences[lo : lo + batch]
            self.collection("sentences").add(
                ids=[s.id for s in part],
                embeddings=vectors[len(chunks) + lo : len(chunks) + lo + len(part)],
                metadatas=[{"doc_id": s.doc_id, "start": s.start, "end": s.end} for s in part],
            )
        return len(texts)

    def _embed_with_progress(self, texts: list[str], progress: Progress | None) -> np.ndarray:
        """Embed in length-sorted batches (as fast as one big encode) and report progress."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        from tqdm import tqdm

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: np.ndarray | None = None
        step = 256
        if progress:
            progress(0, len(texts), "embedding")
        with tqdm(total=len(texts), desc="embedding", unit="text", disable=None) as bar:
            for lo in range(0, len(order), step):
                idx = order[lo : lo + step]
                vecs = self.embedder.embed([texts[i] for i in idx])
                if out is None:
                    out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
                out[idx] = vecs
                bar.update(len(idx))
                if progress:
                    progress(min(lo + step, len(texts)), len(texts), "embedding")
        assert out is not None
        return out

    # -- what search reads ----------------------------------------------------------------------

    def _changed(self) -> None:
        self._keyword = None
        self._sentence_vectors.clear()

    def _corpus_key(self) -> str:
        """What the keyword index must be built from: the fingerprint and each document's hash."""
        digest = hashlib.sha256(json.dumps(self.fingerprint, sort_keys=True).encode())
        for doc_id, entry in self.corpus.entries.items():
            digest.update(f"{doc_id}\0{entry.document.content_hash}\n".encode())
        return digest.hexdigest()

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index of the chunks: loaded from the index folder, or built and saved there
        when the corpus changed since it was saved."""
        if self._keyword is None:
            key = self._corpus_key()
            folder = self.dir / "keyword"
            keyword = KeywordIndex.load(folder, key)
            if keyword is None:
                chunks = list(self.corpus.all_chunks())
                keyword = KeywordIndex.build([c.id for c in chunks], [c.text for c in chunks], key)
                keyword.save(folder)
            self._keyword = keyword
        return self._keyword

    def sentence_vectors(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """The vectors of these sentences (rows, in the order of the ids returned: those the
        store holds), fetched from Chroma on first use and kept."""
        missing = [i for i in dict.fromkeys(ids) if i not in self._sentence_vectors]
        if missing:
            got = self.collection("sentences").get(ids=missing, include=["embeddings"])
            for sid, vector in zip(got["ids"], got["embeddings"], strict=True):
                self._sentence_vectors[sid] = np.asarray(vector, dtype=np.float32)
        found = [i for i in ids if i in self._sentence_vectors]
        if not found:
            return [], np.zeros((0, 1), dtype=np.float32)
        return found, np.stack([self._sentence_vectors[i] for i in found])

"""The Chroma side of the index (the only code that imports chromadb): the client, embedded or a
server's, the three collections of a docs folder, each document's state, and the generation
token that tells every process the index changed. See rag/ingest/store.py for what the
collections hold and the order documents are written in."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rag.errors import RagError
from rag.settings import IndexSettings
from rag.types import Chunk

log = logging.getLogger(__name__)

ID_BATCH = 500  # documents per `where doc_id in [...]` call


@dataclass(frozen=True)
class DocState:
    """A document's record in the docs collection."""

    FIELDS: ClassVar[tuple[str, ...]] = (
        "hash",
        "state",
        "size",
        "mtime",
        "chunks",
        "sentences",
        "committed",
    )
    hash: str  # sha256 of the file's bytes
    state: str  # "writing", "done" or "removing"
    size: int = -1  # the file's size and modification time (ns): unchanged files are not read
    mtime: int = -1
    chunks: int = -1  # how many chunks and sentences this version has
    sentences: int = -1
    committed: str = ""  # while "writing": the hash of the version last committed, if any


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def marker(doc_id: str) -> list[float]:
    """The placeholder vector of a docs/texts record (never searched; distinct, so the
    collection's HNSW graph stays well formed)."""
    digest = hashlib.sha256(doc_id.encode()).digest()
    return [digest[0] / 255 + 0.01, digest[1] / 255 + 0.01]


class ChromaIndex:
    def __init__(self, settings: IndexSettings, prefix: str, path: Path):
        self.settings = settings
        self.prefix = prefix
        self.path = path  # of the embedded database
        self._client: Any = None
        self._collections: dict[str, Any] = {}  # collection handles, and LlamaIndex's view
        # the state table as last read or written by this process, and the generation token
        # it reflects: while the token is unchanged, nobody else wrote, and it need not be read
        self._states: dict[str, DocState] | None = None
        self._seen: str | None = None
        self._lock = threading.RLock()  # the table: a sync writes it while refreshes read it

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
                self._client = chromadb.PersistentClient(path=str(self.path))
        return self._client

    def collection(self, kind: str) -> Any:
        """kind is "chunks", "texts", "docs" or "sentvec"."""
        if kind not in self._collections:
            metadata = {"hnsw:space": "cosine"} if kind in ("chunks", "sentvec") else None
            self._collections[kind] = self.connect().get_or_create_collection(
                f"{self.prefix}_{kind}", metadata=metadata
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

    def drop(self) -> None:
        with self._lock:
            self._states = None
        for kind in ("chunks", "texts", "docs", "sentvec"):
            with contextlib.suppress(Exception):
                self.connect().delete_collection(f"{self.prefix}_{kind}")
        self._collections.clear()

    def meta(self) -> dict[str, Any]:
        """The docs collection's metadata as the store holds it now ({} when there is none)."""
        try:
            fresh = self.connect().get_collection(f"{self.prefix}_docs")
        except RagError:
            raise
        except Exception:  # not created yet (or dropped by a rebuild)
            return {}
        return dict(fresh.metadata or {"created": True})

    def commit(self, fingerprint: str) -> None:
        """Tell every process that the index changed (a new generation token)."""
        with self._lock:
            before = self.meta().get("generation")
            token = uuid.uuid4().hex
            self.collection("docs").modify(
                metadata={"fingerprint": fingerprint, "generation": token}
            )
            if before == self._seen:
                self._seen = token  # only this process wrote since the table was read
            else:
                self._states = None

    def states(self, meta: dict[str, Any] | None = None) -> dict[str, DocState]:
        """The record of every document (read again only when another process committed)."""
        generation = (self.meta() if meta is None else meta).get("generation")
        with self._lock:
            if self._states is None or generation is None or generation != self._seen:
                got = self.collection("docs").get(include=["metadatas"])
                pairs = zip(got["ids"], got["metadatas"], strict=True)
                fields = DocState.FIELDS
                self._states = {
                    i: DocState(**{k: m[k] for k in fields if k in m}) for i, m in pairs
                }
                self._seen = generation
            return dict(self._states)

    def set_states(self, states: dict[str, DocState]) -> None:
        ids = sorted(states)
        with self._lock:
            for part in batches(ids, self.connect().get_max_batch_size()):
                self.collection("docs").upsert(
                    ids=list(part),
                    embeddings=[marker(d) for d in part],
                    metadatas=[asdict(states[d]) for d in part],
                )
            if self._states is not None:
                self._states.update(states)

    def records(self, want: dict[str, str]) -> dict[str, dict[str, Any]]:
        """The text records of these documents (doc_id -> hash), those of that version only."""
        out = {}
        for part in batches(sorted(want), ID_BATCH):
            got = self.collection("texts").get(ids=list(part), include=["metadatas"])
            for doc_id, record in zip(got["ids"], got["metadatas"], strict=True):
                if record and record.get("hash") == want[doc_id]:
                    out[doc_id] = record
        return out

    def write_chunks(self, chunks: Sequence[tuple[str, Chunk]], vectors: np.ndarray) -> None:
        """Write these chunks (with their document's hash) and their vectors as LlamaIndex's
        ChromaVectorStore does, but with upsert: writing a chunk twice (a resumed or a
        concurrent sync) is harmless."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        nodes = []
        for (content_hash, chunk), vec in zip(chunks, vectors, strict=True):
            node = TextNode(
                id_=chunk.id,
                text=chunk.text,
                embedding=vec.tolist(),
                metadata={
                    "doc_id": chunk.doc_id,
                    "hash": content_hash,
                    "start": chunk.start,
                    "end": chunk.end,
                    "sentence_ids": json.dumps(chunk.sentence_ids),
                },
            )
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.doc_id)
            nodes.append(node)
        for batch in batches(nodes, self.connect().get_max_batch_size()):
            self.collection("chunks").upsert(
                ids=[n.node_id for n in batch],
                embeddings=[n.get_embedding() for n in batch],
                metadatas=[node_to_metadata_dict(n, remove_text=True) for n in batch],
                documents=[n.get_content() for n in batch],
            )

    def sentence_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The sentence vectors kept under these text digests (those there are)."""
        got = self.collection("sentvec").get(ids=list(keys), include=["embeddings"])
        pairs = zip(got["ids"], got["embeddings"], strict=True)
        return {k: np.asarray(v, dtype=np.float32) for k, v in pairs}

    def keep_sentence_vectors(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Keep these for every process; a failure costs only their embedding again."""
        try:
            for lo in range(0, len(keys), self.connect().get_max_batch_size()):
                hi = lo + self.connect().get_max_batch_size()
                self.collection("sentvec").upsert(ids=list(keys[lo:hi]), embeddings=vectors[lo:hi])
        except Exception:
            log.warning("could not keep %d sentence vectors", len(keys), exc_info=True)

    def remove(self, states: dict[str, DocState]) -> None:
        """Remove these documents: marked "removing" first, so a crash is finished later."""
        self.set_states({d: replace(s, state="removing") for d, s in states.items()})
        chunks = self.collection("chunks")
        exact = [d for d, s in states.items() if s.state == "done" and s.chunks >= 0]
        ids = [f"{d}#c{i}" for d in exact for i in range(states[d].chunks)]
        for part in batches(ids, self.connect().get_max_batch_size()):
            chunks.delete(ids=list(part))  # by id: no scan of the collection
        unsure = sorted(set(states) - set(exact))  # a crash left them half written
        for part in batches(unsure, ID_BATCH):
            chunks.delete(where={"doc_id": {"$in": list(part)}})
        for part in batches(sorted(states), ID_BATCH):
            self.collection("texts").delete(ids=list(part))
            with self._lock:
                self.collection("docs").delete(ids=list(part))
                for d in part:
                    (self._states or {}).pop(d, None)

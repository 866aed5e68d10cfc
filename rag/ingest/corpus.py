"""Pure: the in-memory corpus (documents, sentences, chunks) and each document's record in the
store (its text, page starts, sentence offsets and chunk layout)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rag.ingest.chunking import chunk_sentences
from rag.ingest.sentences import sentences_at, split_sentences
from rag.types import Chunk, Document, Sentence


@dataclass
class DocEntry:
    document: Document
    sentences: list[Sentence]
    chunks: list[Chunk]


def segment(doc: Document, chunk_max_chars: int, overlap: int) -> DocEntry:
    sentences = split_sentences(doc.doc_id, doc.text, doc.pages)
    return DocEntry(doc, sentences, chunk_sentences(doc.text, sentences, chunk_max_chars, overlap))


def entry_record(e: DocEntry) -> dict[str, str]:
    """A document's record as the store keeps it (flat string values, as Chroma metadata)."""
    return {
        "hash": e.document.content_hash,
        "text": e.document.text,
        "pages": json.dumps(e.document.pages),
        "sentences": json.dumps([[s.start, s.end] for s in e.sentences]),
        "chunks": json.dumps([[c.index, c.sentence_ids[0], len(c.sentence_ids)] for c in e.chunks]),
    }


def entry_from_record(doc_id: str, d: dict[str, Any]) -> DocEntry:
    doc = Document(doc_id, d["text"], d["hash"], tuple(json.loads(d.get("pages") or "[]")))
    sentences = sentences_at(doc_id, doc.text, json.loads(d["sentences"]), doc.pages)
    by_id = {s.id: s for s in sentences}
    chunks = []
    for index, first_id, count in json.loads(d["chunks"]):
        first = by_id[first_id].index
        group = sentences[first : first + count]
        start, end = group[0].start, group[-1].end
        chunks.append(
            Chunk(
                f"{doc_id}#c{index}",
                doc_id,
                index,
                tuple(s.id for s in group),
                start,
                end,
                doc.text[start:end],
            )
        )
    return DocEntry(doc, sentences, chunks)


@dataclass
class Corpus:
    entries: dict[str, DocEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sentences: dict[str, Sentence] = {}
        self.chunks: dict[str, Chunk] = {}
        for entry in self.entries.values():
            self.sentences.update((s.id, s) for s in entry.sentences)
            self.chunks.update((c.id, c) for c in entry.chunks)

    def updated(self, remove: Iterable[str] = (), add: Iterable[DocEntry] = ()) -> Corpus:
        """A new corpus without the documents `remove` and with the entries `add` (replacing
        any of the same id). This one is left as it is, for searches still reading it."""
        new = Corpus()
        new.entries, new.sentences, new.chunks = (
            dict(self.entries),
            dict(self.sentences),
            dict(self.chunks),
        )
        add = list(add)
        for doc_id in [*remove, *(e.document.doc_id for e in add)]:
            old = new.entries.pop(doc_id, None)
            for s in old.sentences if old else ():
                del new.sentences[s.id]
            for c in old.chunks if old else ():
                del new.chunks[c.id]
        for e in add:
            new.entries[e.document.doc_id] = e
            new.sentences.update((s.id, s) for s in e.sentences)
            new.chunks.update((c.id, c) for c in e.chunks)
        new.entries = dict(sorted(new.entries.items()))
        return new

    def document(self, doc_id: str) -> Document:
        return self.entries[doc_id].document

    def hashes(self) -> dict[str, str]:
        return {d: e.document.content_hash for d, e in self.entries.items()}

"""Pure: the in-memory corpus (documents, sentences, chunks) and its JSON form on disk."""

from __future__ import annotations

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


@dataclass
class Corpus:
    entries: dict[str, DocEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Refresh the id lookups after entries changed."""
        self.sentences: dict[str, Sentence] = {}
        self.chunks: dict[str, Chunk] = {}
        for entry in self.entries.values():
            self.sentences.update((s.id, s) for s in entry.sentences)
            self.chunks.update((c.id, c) for c in entry.chunks)

    def document(self, doc_id: str) -> Document:
        return self.entries[doc_id].document

    def all_chunks(self) -> Iterable[Chunk]:
        for entry in self.entries.values():
            yield from entry.chunks

    def to_json(self) -> dict[str, Any]:
        return {
            doc_id: {
                "hash": e.document.content_hash,
                "text": e.document.text,
                "sentences": [[s.start, s.end] for s in e.sentences],
                **({"pages": list(e.document.pages)} if e.document.pages else {}),
                "chunks": [[c.index, c.sentence_ids[0], len(c.sentence_ids)] for c in e.chunks],
            }
            for doc_id, e in self.entries.items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Corpus:
        entries = {}
        for doc_id, d in data.items():
            doc = Document(doc_id, d["text"], d["hash"], tuple(d.get("pages", ())))
            sentences = sentences_at(doc_id, doc.text, d["sentences"], doc.pages)
            by_id = {s.id: s for s in sentences}
            chunks = []
            for index, first_id, count in d["chunks"]:
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
            entries[doc_id] = DocEntry(doc, sentences, chunks)
        return cls(entries)

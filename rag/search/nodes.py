"""The records of rag.types as LlamaIndex sees them: a question with its per-request options
(a QueryBundle), chunks and evidence sentences as scored nodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.types import Chunk, Evidence, Sentence


@dataclass
class Ask(QueryBundle):
    """A question on its way through the engine. `query_str` is what is searched for (a
    follow-up made to stand alone); `asked` is the question as the person asked it, which the
    Answer keeps. The rest is what this request asks for: options travel with the question,
    so no shared object is changed to serve one request; None means the engine's setting."""

    asked: str = ""
    rewritten_by: str = ""  # "llm" or "rules" when query_str is a rewritten follow-up
    writer: str | None = None
    top_k: int | None = None
    evidence_k: int | None = None
    view: Any = None  # the store's View when it was asked (rag.ingest.store.View)


def chunk_node(chunk: Chunk, score: float) -> NodeWithScore:
    return NodeWithScore(
        node=TextNode(id_=chunk.id, text=chunk.text, metadata={"doc_id": chunk.doc_id}),
        score=score,
    )


def evidence_node(evidence: Evidence) -> NodeWithScore:
    s = evidence.sentence
    return NodeWithScore(
        node=TextNode(
            id_=s.id,
            text=s.text,
            metadata={
                "doc_id": s.doc_id,
                "index": s.index,
                "start": s.start,
                "end": s.end,
                "page": s.page,
                "dense": evidence.dense,
                "lexical": evidence.lexical,
                "reader": evidence.reader,
            },
        ),
        score=evidence.score,
    )


def node_evidence(node: NodeWithScore) -> Evidence:
    meta = node.node.metadata
    sentence = Sentence(
        id=node.node.node_id,
        doc_id=str(meta["doc_id"]),
        index=int(meta["index"]),
        start=int(meta["start"]),
        end=int(meta["end"]),
        text=node.node.get_content(),
        page=None if meta.get("page") is None else int(meta["page"]),
    )
    score = float(node.score or 0.0)
    reader = meta.get("reader")
    return Evidence(
        sentence,
        score,
        float(meta["dense"]),
        float(meta["lexical"]),
        None if reader is None else float(reader),
    )

"""The LlamaIndex node postprocessor that turns retrieved chunks into scored evidence sentences:
every sentence of the chunks, scored by rag.search.evidence (a cheap first pass), the best
`reader_depth` of them read against the question by the reader model and reordered by it, the
request's evidence_k best kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from rag.models.reader import reader_texts
from rag.search.evidence import rerank, score_evidence
from rag.search.nodes import evidence_node
from rag.search.retrievers import query_vector, view_of
from rag.settings import RetrievalSettings
from rag.types import Sentence

if TYPE_CHECKING:
    from rag.ingest.store import Store
    from rag.models.reader import Reader


class EvidencePostprocessor(BaseNodePostprocessor):
    _store: Any = PrivateAttr()
    _settings: RetrievalSettings = PrivateAttr()
    _reader: Any = PrivateAttr()

    def __init__(
        self,
        store: Store,
        settings: RetrievalSettings,
        reader: Reader | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._store = store
        self._settings = settings
        self._reader = reader

    @classmethod
    def class_name(cls) -> str:
        return "EvidencePostprocessor"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if query_bundle is None or not nodes:
            return []
        store: Store = self._store
        view = view_of(store, query_bundle)
        corpus = view.corpus
        candidates: dict[str, Sentence] = {}
        for node in nodes:
            chunk = corpus.chunks.get(node.node.node_id)
            for sid in chunk.sentence_ids if chunk else ():
                candidates.setdefault(sid, corpus.sentences[sid])
        ids, vectors = store.sentence_vectors(list(candidates))

        def previous(s: Sentence) -> Sentence | None:
            return corpus.sentences.get(f"{s.doc_id}#s{s.index - 1}") if s.index else None

        evidence = score_evidence(
            query_bundle.query_str,
            np.asarray(query_vector(store, query_bundle), dtype=np.float32),
            [candidates[i] for i in ids],
            vectors,
            view.keyword.idf,
            previous,
            self._settings,
        )
        if self._reader is not None:
            texts = reader_texts(corpus.sentences, evidence[: self._settings.reader_depth])
            scores = self._reader.scores(query_bundle.query_str, texts)
            evidence = rerank(evidence, scores, self._settings.reader_evidence_weight)
        k = getattr(query_bundle, "evidence_k", None) or self._settings.evidence_k
        return [evidence_node(e) for e in evidence[:k]]

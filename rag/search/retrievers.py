"""The LlamaIndex retrievers of chunks: dense (Chroma, through LlamaIndex's vector store API),
keyword (BM25) and the two fused by reciprocal rank.

Why our own fusing retriever rather than LlamaIndex's QueryFusionRetriever: that one fixes the
RRF constant at 60 (ours is a setting the eval records), breaks ties by hash order (ours by id,
so every run ranks alike) and wants an LLM object even when it generates no extra queries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from rag.search.fusion import rrf
from rag.search.nodes import chunk_node
from rag.settings import RetrievalSettings

if TYPE_CHECKING:
    from rag.ingest.store import Store, View


def query_vector(store: Store, bundle: QueryBundle) -> list[float]:
    """The question's embedding, computed once per request and kept on the bundle."""
    if bundle.embedding is None:
        bundle.embedding = store.embedder.embed([bundle.query_str])[0].tolist()
    return bundle.embedding


def view_of(store: Store, bundle: QueryBundle) -> View:
    """The view this request answers from: the one it took when it was asked (an Ask carries
    it), so a sync that ends meanwhile does not change the documents under it."""
    return getattr(bundle, "view", None) or store.view


class _Ranker(BaseRetriever):
    """One ranking of the store's chunks, the k best."""

    def __init__(self, store: Store, k: int):
        super().__init__()
        self._store = store
        self._k = k


class DenseRetriever(_Ranker):
    """Chunks nearest to the question in embedding space."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        corpus = view_of(self._store, query_bundle).corpus
        k = min(self._k, len(corpus.chunks))
        if k == 0:
            return []
        result = self._store.chunk_store().query(
            VectorStoreQuery(
                query_embedding=query_vector(self._store, query_bundle), similarity_top_k=k
            )
        )
        ids = result.ids or []
        scores = result.similarities or [0.0] * len(ids)
        # the vector store also holds what a sync is writing: only the view's versions count
        versions = [n.metadata.get("hash") for n in result.nodes or []] or [None] * len(ids)
        return [
            chunk_node(corpus.chunks[i], s)
            for i, s, h in zip(ids, scores, versions, strict=False)
            if i in corpus.chunks
            and h in (None, corpus.entries[corpus.chunks[i].doc_id].document.content_hash)
        ]


class KeywordRetriever(_Ranker):
    """Chunks with the best BM25 score for the question's words."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        view = view_of(self._store, query_bundle)
        hits = view.keyword.search(query_bundle.query_str, self._k)
        return [chunk_node(view.corpus.chunks[i], s) for i, s in hits if i in view.corpus.chunks]


class HybridRetriever(BaseRetriever):
    """Dense and keyword rankings fused by reciprocal rank; the request's top_k best chunks."""

    def __init__(self, store: Store, settings: RetrievalSettings):
        super().__init__()
        self._settings = settings
        self.rankers: list[BaseRetriever] = [
            DenseRetriever(store, settings.candidates),
            KeywordRetriever(store, settings.candidates),
        ]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        rankings = [r.retrieve(query_bundle) for r in self.rankers]
        nodes = {n.node.node_id: n.node for ranking in rankings for n in ranking}
        fused = rrf([[n.node.node_id for n in r] for r in rankings], self._settings.rrf_k)
        top_k = getattr(query_bundle, "top_k", None) or self._settings.top_k
        return [NodeWithScore(node=nodes[i], score=score) for i, score in fused[:top_k]]

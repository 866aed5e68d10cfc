"""The LlamaIndex face of the pipeline: a retriever of evidence sentences and a query engine
that applies the refusal rule and the pipeline's answer writer (extractive or LLM)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.answering import final_answer
from rag.types import Evidence

if TYPE_CHECKING:
    from rag.pipeline import Pipeline


class EvidenceRetriever(BaseRetriever):
    """Hybrid chunk retrieval, then sentence evidence scoring; one node per evidence sentence."""

    def __init__(self, pipeline: Pipeline):
        super().__init__()
        self._pipeline = pipeline

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [
            NodeWithScore(
                node=TextNode(
                    id_=e.sentence.id,
                    text=e.sentence.text,
                    metadata={
                        "doc_id": e.sentence.doc_id,
                        "start": e.sentence.start,
                        "end": e.sentence.end,
                        "dense": e.dense,
                        "lexical": e.lexical,
                    },
                ),
                score=e.score,
            )
            for e in self._pipeline.retrieve(query_bundle.query_str)
        ]


class CitedAnswerEngine(CustomQueryEngine):
    """Retrieve evidence, refuse when it is weak, else let the writer answer with [n] citations."""

    retriever: BaseRetriever
    pipeline: Any

    def custom_query(self, query_str: str) -> Response:
        nodes = self.retriever.retrieve(query_str)
        sentences = self.pipeline.index.corpus.sentences
        evidence = [
            Evidence(
                sentence=sentences[n.node.node_id],
                score=float(n.score or 0.0),
                dense=float(n.node.metadata["dense"]),
                lexical=float(n.node.metadata["lexical"]),
            )
            for n in nodes
        ]
        answer = final_answer(self.pipeline.write(query_str, evidence))
        return Response(response=answer.text, source_nodes=nodes, metadata={"answer": answer})


def build_query_engine(pipeline: Pipeline) -> CitedAnswerEngine:
    return CitedAnswerEngine(retriever=EvidenceRetriever(pipeline), pipeline=pipeline)

"""The one road every entry point takes (the chat, the /ask API, `rag ask`, `rag eval`): a
LlamaIndex RetrieverQueryEngine, built here, once per Engine.

    Ask ─► HybridRetriever        dense (Chroma) + keyword (BM25) chunks, fused by reciprocal rank
        ─► EvidencePostprocessor  the chunks' sentences scored as evidence, the best kept
        ─► CitedSynthesizer       answerability (refuse, or answer with a low-confidence note),
                                  then the request's answer writer, streamed
        ─► Answer                 text, [n] citations of exact sentences, refused or not

What varies per request (the writer, top_k, how much evidence) travels in the Ask; nothing
shared is changed to serve one request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from llama_index.core.base.response.schema import StreamingResponse
from llama_index.core.query_engine import RetrieverQueryEngine

from rag.answer.registry import Writers
from rag.answer.synthesizer import CitedSynthesizer
from rag.answer.writers import AnswerWriter, final_answer
from rag.conversation.condense import Condenser
from rag.conversation.rules import exchanges_of_questions
from rag.ingest.report import SyncReport
from rag.ingest.store import Progress, Store
from rag.models.embedder import Embedder, make_embedder
from rag.models.reader import make_reader
from rag.question import check_question
from rag.search.answerability import Verdict, make_answerability
from rag.search.nodes import Ask, node_evidence
from rag.search.postprocess import EvidencePostprocessor
from rag.search.retrievers import HybridRetriever
from rag.settings import Settings
from rag.types import Answer, Evidence, Exchange

if TYPE_CHECKING:
    from rag.models.llm import LLM

History = Sequence[Exchange | str]  # earlier turns, oldest first; a bare string is a question


class Engine:
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        writers: Mapping[str, AnswerWriter] | None = None,
    ):
        self.settings = settings
        self.embedder = embedder or make_embedder(settings.index)
        self.store = Store(settings.index, self.embedder)
        self.reader = make_reader(settings.retrieval)
        self.writers = Writers(
            settings, self.embedder, lambda: self.store.corpus, writers, self.reader
        )
        self.query_engine = RetrieverQueryEngine(
            retriever=HybridRetriever(self.store, settings.retrieval),
            node_postprocessors=[
                EvidencePostprocessor(self.store, settings.retrieval, self.reader)
            ],
            response_synthesizer=CitedSynthesizer(self.writers, self._judge),
        )
        self.condenser = Condenser(settings.chat, self._condense_llm)
        self.answerability = make_answerability(settings.retrieval)

    def _judge(self, question: str, evidence: Sequence[Evidence]) -> Verdict:
        """Does the evidence answer the question: answer, answer with a low-confidence note,
        or refuse (rag/search/answerability.py)."""
        return self.answerability.verdict(question, evidence, self.store.keyword_index())

    def _condense_llm(self) -> LLM | None:
        """The LLM writer's model, for the condense step; None when the LLM is not installed
        and the settings let rules do (condense=auto)."""
        if self.settings.chat.condense == "auto" and not self.writers.llm_installed():
            return None
        return getattr(self.writers.ready("llm"), "llm", None)

    def ingest(
        self, progress: Progress | None = None, allow_empty: bool = False, wait: bool = True
    ) -> SyncReport:
        """Sync the index with the docs folder (IndexBusy when another ingest holds it and
        not `wait`)."""
        return self.store.sync(progress, allow_empty, wait)

    def ask(
        self,
        question: str,
        history: History = (),
        *,
        writer: str | None = None,
        top_k: int | None = None,
        evidence_k: int | None = None,
    ) -> Ask:
        """The question as it travels through the engine: checked as asked, made to stand alone
        for retrieval (the condense step) when it leans on `history`."""
        asked = check_question(question, self.settings.retrieval.max_question_chars)
        self.store.refresh()  # documents another process indexed since
        turns = (
            exchanges_of_questions([str(t) for t in history])
            if all(isinstance(t, str) for t in history)
            else [Exchange(t) if isinstance(t, str) else t for t in history]
        )
        kind = self.writers.check(writer)
        # an answer the LLM does not write does not wait for it to rewrite the follow-up
        rewrite = self.condenser.rewrite(asked, turns, wait=kind == "llm")
        return Ask(
            query_str=rewrite.question,
            asked=asked,
            rewritten_by="" if rewrite.method == "as asked" else rewrite.method,
            writer=kind,
            top_k=top_k,
            evidence_k=evidence_k,
            view=self.store.view,
        )

    def stream(
        self, question: str, history: History = (), **options: int | str | None
    ) -> Iterator[str | Answer]:
        """Text pieces as they are written, then the final Answer (always last)."""
        response = self.query_engine.query(self.ask(question, history, **options))  # type: ignore[arg-type]
        assert isinstance(response, StreamingResponse) and response.metadata is not None
        yield from response.response_gen
        yield response.metadata["answer"]

    def answer(self, question: str, history: History = (), **options: int | str | None) -> Answer:
        return final_answer(self.stream(question, history, **options))

    def evidence(
        self, question: str, history: History = (), depth: int | None = None
    ) -> list[Evidence]:
        """The evidence sentences the engine would answer from, best first, `depth` of them
        (retrieval only: nothing is written)."""
        nodes = self.query_engine.retrieve(self.ask(question, history, evidence_k=depth))
        return [node_evidence(n) for n in nodes]

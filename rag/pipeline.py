"""Wires the parts together: index sync, hybrid retrieval, evidence, the refusal rule and an
answer writer, behind a LlamaIndex query engine. `Pipeline.answer(question) -> Answer`."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from rag.answering import AnswerWriter, final_answer, make_writer, refusal, refusal_reason
from rag.conversation import standalone_question
from rag.corpus import Corpus
from rag.embedding import Embedder, make_embedder
from rag.errors import BadQuestion
from rag.index import Index, Progress, SyncReport
from rag.keyword import BM25
from rag.retrieval import rrf, score_evidence
from rag.settings import Settings
from rag.types import Answer, Evidence, Sentence

log = logging.getLogger(__name__)

CANDIDATES_PER_RANKER = 20


def check_question(question: str, max_chars: int) -> str:
    question = question.strip()
    if not question:
        raise BadQuestion(
            'the question is empty; ask something, e.g. "Why were the drills suspended?"'
        )
    if len(question) > max_chars:
        raise BadQuestion(
            f"the question is {len(question)} characters long; keep it under {max_chars} "
            "(set RAG_MAX_QUESTION_CHARS to change the limit)"
        )
    return question


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        writer: AnswerWriter | None = None,
    ):
        self.settings = settings
        self.embedder = embedder or make_embedder(settings)
        self.index = Index(settings, self.embedder)
        self.writer = writer or make_writer(settings, self.embedder, self.current_corpus)
        self._bm25: BM25 | None = None
        self._rows: dict[str, int] = {}
        self._engine: Any = None

    def current_corpus(self) -> Corpus:
        return self.index.corpus

    # -- index --------------------------------------------------------------------------------

    def ingest(self, progress: Progress | None = None, allow_empty: bool = False) -> SyncReport:
        report = self.index.sync(progress, allow_empty)
        self._bm25 = None  # rebuilt lazily from the new corpus
        return report

    def _keyword(self) -> BM25:
        if self._bm25 is None:
            chunks = list(self.index.corpus.all_chunks())
            self._bm25 = BM25([c.id for c in chunks], [c.text for c in chunks])
            ids, _ = self.index.sentence_vectors()
            self._rows = {sid: i for i, sid in enumerate(ids)}
        return self._bm25

    # -- retrieval ----------------------------------------------------------------------------

    def retrieve(self, question: str, top_k: int | None = None) -> list[Evidence]:
        """Hybrid retrieval of chunks, then their sentences scored as evidence, best first."""
        question = check_question(question, self.settings.max_question_chars)
        corpus = self.index.corpus
        if not corpus.chunks:
            return []
        bm25 = self._keyword()
        q_vec = self.embedder.embed([question])[0]
        dense = self.index.dense_chunks(q_vec, CANDIDATES_PER_RANKER)
        keyword = bm25.search(question, CANDIDATES_PER_RANKER)
        fused = rrf([[cid for cid, _ in dense], [cid for cid, _ in keyword]])
        fused = fused[: top_k or self.settings.top_k]
        seen: dict[str, Sentence] = {}
        for chunk_id, _ in fused:
            for sid in corpus.chunks[chunk_id].sentence_ids:
                seen.setdefault(sid, corpus.sentences[sid])
        candidates = [s for s in seen.values() if s.id in self._rows]
        _, matrix = self.index.sentence_vectors()
        vectors = matrix[[self._rows[s.id] for s in candidates]] if candidates else matrix[:0]

        def previous(s: Sentence) -> Sentence | None:
            return corpus.sentences.get(f"{s.doc_id}#s{s.index - 1}") if s.index else None

        evidence = score_evidence(question, q_vec, candidates, vectors, bm25.idf, previous)
        return evidence[: self.settings.evidence_k]

    # -- answering ----------------------------------------------------------------------------

    def stream(
        self, question: str, history: Sequence[str] = (), top_k: int | None = None
    ) -> Iterator[str | Answer]:
        """Text pieces as they are written, then the final Answer. `history` holds the earlier
        questions of the conversation, oldest first; a follow-up is made to stand alone for
        retrieval, while the Answer keeps the question as asked."""
        asked = check_question(question, self.settings.max_question_chars)
        standalone = standalone_question(asked, history)
        for piece in self.write(standalone, self.retrieve(standalone, top_k)):
            yield replace(piece, question=asked) if isinstance(piece, Answer) else piece

    def write(self, question: str, evidence: list[Evidence]) -> Iterator[str | Answer]:
        """Refuse on weak evidence (decided here, before any model runs), else let the writer
        answer."""
        reason = refusal_reason(question, evidence, self.settings.min_evidence_score)
        if reason:
            yield refusal(question, evidence, self.writer.name, reason)
            return
        yield from self.writer.stream(question, evidence)

    def answer(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Answer through the LlamaIndex query engine (see rag/engine.py); `history` as in
        stream()."""
        asked = check_question(question, self.settings.max_question_chars)
        response = self.query_engine().query(standalone_question(asked, history))
        answer: Answer = response.metadata["answer"]
        return replace(answer, question=asked)

    def query_engine(self) -> Any:
        if self._engine is None:
            from rag.engine import build_query_engine

            self._engine = build_query_engine(self)
        return self._engine


def answer(pipeline: Pipeline, question: str) -> Answer:
    """Answer without LlamaIndex (used by tests to cross-check the engine)."""
    return final_answer(pipeline.stream(question))

"""The engine, the one road: a LlamaIndex RetrieverQueryEngine of our retriever, evidence
postprocessor and streaming synthesizer, over a small corpus with the fake embedder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from llama_index.core.base.response.schema import StreamingResponse
from llama_index.core.query_engine import RetrieverQueryEngine

from rag.answer.writers import MODEL_FOUND_NONE, REFUSAL, ExtractiveWriter, refusal
from rag.engine import Engine
from rag.errors import BadQuestion, RagError
from rag.search.answerability import Verdict
from rag.search.nodes import Ask
from rag.search.postprocess import EvidencePostprocessor
from rag.search.retrievers import HybridRetriever
from rag.settings import Settings
from rag.types import Answer, Evidence
from tests.fakes import HashingEmbedder

NEWS = (
    "The naval drills were stalled due to a 2018 dispute over a flag.\n\n"
    "The ministers met at Yokosuka on January 30.\n\n"
    "The last drills were held in 2017, before the dispute.\n\n"
    "Koizumi visited the destroyer and spoke with the crew."
)


class RecordingWriter:
    """Answers with its first evidence sentence and records what it was asked."""

    def __init__(self, name: str):
        self.name = name
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        self.asked.append((question, tuple(e.sentence.id for e in evidence)))
        yield "draft "
        yield Answer(
            question, f"{evidence[0].sentence.text} [1]", False, (), tuple(evidence), self.name
        )


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "news.txt").write_text(NEWS, encoding="utf-8")
    settings = Settings.load(docs_dir=docs, cache_dir=tmp_path / "cache", answerer="extractive")
    writers = {"extractive": RecordingWriter("extractive"), "llm": RecordingWriter("llm")}
    e = Engine(settings, embedder=HashingEmbedder(), writers=writers)
    e.ingest()
    return e


def test_the_engine_is_a_llamaindex_query_engine_of_our_parts(engine: Engine) -> None:
    qe = engine.query_engine
    assert isinstance(qe, RetrieverQueryEngine)
    assert isinstance(qe.retriever, HybridRetriever)
    assert any(isinstance(p, EvidencePostprocessor) for p in qe._node_postprocessors)
    response = qe.query(engine.ask("Why were the drills stalled?"))
    assert isinstance(response, StreamingResponse)
    assert "".join(response.response_gen) == "draft "
    answer = response.metadata["answer"]
    assert isinstance(answer, Answer) and "2018 dispute" in answer.text
    # source nodes are the evidence sentences, scored, best first
    ids = [n.node.node_id for n in response.source_nodes]
    assert ids[0] == "news.txt#s0" and len(ids) <= engine.settings.retrieval.evidence_k


def test_stream_yields_text_then_the_answer_with_the_question_as_asked(engine: Engine) -> None:
    pieces = list(engine.stream("When were they last held?", ["Why were the drills stalled?"]))
    assert pieces[:-1] == ["draft "]
    answer = pieces[-1]
    assert isinstance(answer, Answer)
    assert answer.question == "When were they last held?"  # not the rewritten one
    writer = engine.writers.get("extractive")
    assert isinstance(writer, RecordingWriter)
    searched, _ = writer.asked[-1]
    assert searched == answer.searched == "When were drills last held?"  # the rule's rewrite


def test_options_travel_with_the_request_and_change_nothing_shared(engine: Engine) -> None:
    before = engine.settings
    llm = engine.writers.get("llm")
    extractive = engine.writers.get("extractive")
    assert isinstance(llm, RecordingWriter) and isinstance(extractive, RecordingWriter)
    engine.answer("Where did the ministers meet?", writer="llm", evidence_k=1)
    engine.answer("Where did the ministers meet?")
    assert len(llm.asked) == 1 and len(llm.asked[0][1]) == 1
    assert len(extractive.asked) == 1
    assert len(extractive.asked[0][1]) == min(before.retrieval.evidence_k, 4)
    assert engine.settings is before and engine.writers.default == "extractive"
    assert len(engine.evidence("Where did the ministers meet?", depth=3)) == 3
    with pytest.raises(RagError, match="unknown answer writer"):
        engine.answer("Where did the ministers meet?", writer="gpt-17")


def test_top_k_limits_the_chunks_evidence_comes_from(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "news.txt").write_text(NEWS, encoding="utf-8")
    settings = Settings.load(
        docs_dir=docs, cache_dir=tmp_path / "c", answerer="extractive", chunk_max_chars=70
    )
    engine = Engine(settings.replace(chunk_overlap_sentences=0), embedder=HashingEmbedder())
    engine.ingest()
    one = engine.evidence("drills dispute ministers Koizumi", depth=10)
    assert len({e.sentence.id for e in one}) == 4  # every chunk by default (top_k 6)
    ask = engine.ask("drills dispute ministers Koizumi", top_k=1, evidence_k=10)
    nodes = engine.query_engine.retrieve(ask)
    assert len(nodes) == 1  # one chunk of one sentence


def test_a_follow_up_near_the_limit_is_judged_by_its_own_length(engine: Engine) -> None:
    limit = engine.settings.retrieval.max_question_chars
    follow_up = "And when were they last held" + "?" * (limit - 30)
    assert len(follow_up) < limit
    answer = engine.answer(follow_up, ["Why were the naval drills stalled over the flag dispute?"])
    assert answer.question == follow_up.strip()
    with pytest.raises(BadQuestion, match=f"{limit + 1} characters long"):
        engine.answer("x" * (limit + 1))


def test_weak_evidence_is_refused_before_any_writer_runs(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "news.txt").write_text(NEWS, encoding="utf-8")
    settings = Settings.load(docs_dir=docs, cache_dir=tmp_path / "c", answerer="extractive")
    writer = RecordingWriter("extractive")
    engine = Engine(settings, embedder=HashingEmbedder(), writers={"extractive": writer})
    engine.ingest()
    answer = engine.answer("What is the capital of France?")
    assert answer.refused and answer.text == REFUSAL and not answer.citations
    assert writer.asked == []


def test_an_ask_is_a_query_bundle_with_the_request_options(engine: Engine) -> None:
    ask = engine.ask(" Why? ", ["earlier"], writer="llm", top_k=3, evidence_k=2)
    assert isinstance(ask, Ask)
    assert (ask.asked, ask.writer, ask.top_k, ask.evidence_k) == ("Why?", "llm", 3, 2)


class RefusingWriter(RecordingWriter):
    """An LLM writer whose model finds no answer, whatever it is shown."""

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        self.asked.append((question, tuple(e.sentence.id for e in evidence)))
        yield REFUSAL
        yield refusal(question, evidence, self.name, MODEL_FOUND_NONE)


class Fixed:
    """An answerability model that always gives the same verdict."""

    def __init__(self, verdict: Verdict):
        self.given = verdict

    def verdict(self, question: str, evidence: Sequence[Evidence], terms: object) -> Verdict:
        return self.given


@pytest.mark.parametrize(
    ("decision", "refused", "low"), [("answer", False, True), ("low", True, False)]
)
def test_a_model_refusal_stands_only_where_answerability_doubts_too(
    tmp_path: Path, decision: str, refused: bool, low: bool
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "news.txt").write_text(NEWS, encoding="utf-8")
    settings = Settings.load(docs_dir=docs, cache_dir=tmp_path / "c", answerer="llm")
    writers = {"extractive": ExtractiveWriter(0.08), "llm": RefusingWriter("llm")}
    engine = Engine(settings, embedder=HashingEmbedder(), writers=writers)
    engine.ingest()
    engine.answerability = Fixed(Verdict(decision, 0.5))  # type: ignore[assignment]
    answer = engine.answer("Where did the ministers meet?")
    assert answer.refused is refused and answer.low_confidence is low
    if not refused:  # the closest evidence, quoted, and the page says it is unsure
        assert "Yokosuka" in answer.text and answer.citations
        assert answer.answerer == "extractive" and MODEL_FOUND_NONE in answer.note

"""The engine, the one road: a LlamaIndex RetrieverQueryEngine of our retriever, evidence
postprocessor and streaming synthesizer, over a small corpus with the fake embedder."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from llama_index.core.base.response.schema import StreamingResponse
from llama_index.core.query_engine import RetrieverQueryEngine

from rag.answer.llm_writer import LLMWriter
from rag.answer.synthesizer import QUOTED_INSTEAD, decide
from rag.answer.writers import MODEL_FOUND_NONE, REFUSAL, AnswerWriter, ExtractiveWriter, refusal
from rag.engine import Engine
from rag.errors import BadQuestion, RagError
from rag.search.answerability import Verdict
from rag.search.nodes import Ask
from rag.search.postprocess import EvidencePostprocessor
from rag.search.retrievers import HybridRetriever
from rag.settings import Settings
from rag.types import ANSWERED, Answer, DecidedBy, Decision, Evidence
from tests.fakes import HashingEmbedder, ScriptedLLM

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
            question, f"{evidence[0].sentence.text} [1]", ANSWERED, (), tuple(evidence), self.name
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
    assert answer.decision == Decision("refused", "weak evidence", "evidence")
    assert writer.asked == []


def test_an_ask_is_a_query_bundle_with_the_request_options(engine: Engine) -> None:
    ask = engine.ask(" Why? ", ["earlier"], writer="llm", top_k=3, evidence_k=2)
    assert isinstance(ask, Ask)
    assert (ask.asked, ask.writer, ask.top_k, ask.evidence_k) == ("Why?", "llm", 3, 2)


class RefusingWriter(RecordingWriter):
    """An LLM writer that finds no answer, whatever it is shown (`by` says who found none;
    the note is only free text, and says nothing here)."""

    def __init__(self, name: str, by: DecidedBy = "writer", note: str = ""):
        super().__init__(name)
        self.by: DecidedBy = by
        self.note = note

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        self.asked.append((question, tuple(e.sentence.id for e in evidence)))
        yield REFUSAL
        yield refusal(question, evidence, self.name, self.by, MODEL_FOUND_NONE, self.note)


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
    writers: dict[str, AnswerWriter] = {
        "extractive": ExtractiveWriter(0.08),
        "llm": RefusingWriter("llm"),
    }
    engine = Engine(settings, embedder=HashingEmbedder(), writers=writers)
    engine.ingest()
    engine.answerability = Fixed(Verdict(decision, 0.5))  # type: ignore[assignment]
    answer = engine.answer("Where did the ministers meet?")
    assert answer.refused is refused and answer.low_confidence is low
    if not refused:  # the closest evidence, quoted, and the page says it is unsure
        assert "Yokosuka" in answer.text and answer.citations
        assert answer.answerer == "extractive"
        assert answer.decision == Decision("low_confidence", QUOTED_INSTEAD, "writer")
    else:
        assert answer.decision == Decision("refused", MODEL_FOUND_NONE, "writer")


def news_engine(tmp_path: Path, writers: Mapping[str, AnswerWriter], verdict: Verdict) -> Engine:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "news.txt").write_text(NEWS, encoding="utf-8")
    settings = Settings.load(docs_dir=docs, cache_dir=tmp_path / "c", answerer="llm")
    engine = Engine(settings, embedder=HashingEmbedder(), writers=writers)
    engine.ingest()
    engine.answerability = Fixed(verdict)  # type: ignore[assignment]
    return engine


@pytest.mark.parametrize(
    ("verdict", "decision"),
    [
        (Verdict("low", 0.4), Decision("refused", MODEL_FOUND_NONE, "writer")),
        (Verdict("answer", 0.1), Decision("low_confidence", QUOTED_INSTEAD, "writer")),
    ],
)
def test_a_scripted_model_finding_no_answer_is_a_typed_decision_end_to_end(
    tmp_path: Path, verdict: Verdict, decision: Decision
) -> None:
    """The real LLM writer over a scripted model that finds no answer: the writer says so in
    its Answer's Decision, the synthesizer weighs it with the verdict, the JSON carries it."""
    settings = Settings.load()
    llm = ScriptedLLM("The documents do not mention where they met.")
    llm_writer = LLMWriter(settings, fallback=ExtractiveWriter(0.08), llm=llm)
    writers: dict[str, AnswerWriter] = {"extractive": ExtractiveWriter(0.08), "llm": llm_writer}
    engine = news_engine(tmp_path, writers, verdict)
    answer = engine.answer("Where did the ministers meet?")
    assert len(llm.prompts) == 1 and answer.decision == decision
    data = answer.to_json()
    assert (data["decision"], data["reason"]) == (decision.outcome, decision.reason)
    assert data["refused"] is decision.refused
    assert data["low_confidence"] is decision.low_confidence


def test_the_judges_low_band_is_low_confidence_decided_by_the_evidence(tmp_path: Path) -> None:
    writers: dict[str, AnswerWriter] = {
        "extractive": ExtractiveWriter(0.08),
        "llm": RecordingWriter("llm"),
    }
    engine = news_engine(tmp_path, writers, Verdict("low", 0.41))
    answer = engine.answer("Where did the ministers meet?")
    assert answer.decision.outcome == "low_confidence" and answer.decision.by == "evidence"
    assert "0.41" in answer.decision.reason and answer.low_confidence and not answer.refused
    assert answer.to_json()["decision"] == "low_confidence"
    assert answer.to_json()["reason"] == answer.decision.reason


def test_the_judges_refusal_carries_its_reason_and_no_writer_runs(tmp_path: Path) -> None:
    llm = RecordingWriter("llm")
    verdict = Verdict("refuse", 0.9, 'no evidence sentence mentions "Paris"')
    engine = news_engine(tmp_path, {"llm": llm}, verdict)
    answer = engine.answer("Where did the ministers meet?")
    assert answer.decision == Decision("refused", verdict.reason, "evidence")
    assert answer.to_json()["reason"] == verdict.reason and llm.asked == []


@pytest.mark.parametrize(
    ("by", "note", "overruled"),
    [
        ("writer", "", True),  # no note at all: the typed field alone overrules
        ("check", MODEL_FOUND_NONE, False),  # a note that reads like the model's: not read
    ],
)
def test_the_second_opinion_reads_the_typed_decision_never_the_note(
    tmp_path: Path, by: DecidedBy, note: str, overruled: bool
) -> None:
    writers: dict[str, AnswerWriter] = {
        "extractive": ExtractiveWriter(0.08),
        "llm": RefusingWriter("llm", by, note),
    }
    engine = news_engine(tmp_path, writers, Verdict("answer", 0.1))
    answer = engine.answer("Where did the ministers meet?")
    assert answer.refused is not overruled
    assert answer.decision.by == by


@pytest.mark.parametrize(
    ("verdict", "written", "final"),
    [
        (Verdict("answer", 0.1), Decision("answered"), Decision("answered")),
        (Verdict("low", 0.45), Decision("answered"), Decision("low_confidence", "", "evidence")),
        (Verdict("low", 0.45, "why"), Decision("answered"), Decision("low_confidence", "why")),
        (Verdict("refuse", 0.9, "weak evidence"), ANSWERED, Decision("refused", "weak evidence")),
        (
            Verdict("low", 0.45),
            Decision("refused", "x", "check"),
            Decision("refused", "x", "check"),
        ),
        (
            Verdict("answer", 0.1),
            Decision("refused", "x", "check"),
            Decision("refused", "x", "check"),
        ),
    ],
)
def test_decide_combines_the_verdict_and_the_writers_decision(
    verdict: Verdict, written: Decision, final: Decision
) -> None:
    decided = decide(verdict, written)
    if final.outcome == "low_confidence" and not final.reason:
        assert decided.outcome == "low_confidence" and decided.by == "evidence"
        assert "P unanswerable 0.45" in decided.reason
    else:
        assert decided == final

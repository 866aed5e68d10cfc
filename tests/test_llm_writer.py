from __future__ import annotations

import pytest

from rag.answer.llm_writer import UNVERIFIED, LLMWriter
from rag.answer.templates import load_prompt, prompt_hashes
from rag.answer.writers import MODEL_FOUND_NONE, REFUSAL, ExtractiveWriter, final_answer
from rag.errors import PromptError
from rag.settings import Settings
from rag.types import Answer, Decision
from tests.fakes import ScriptedLLM
from tests.test_citations import EVIDENCE, Q


def writer(*replies: str) -> tuple[LLMWriter, ScriptedLLM]:
    llm = ScriptedLLM(*replies)
    return LLMWriter(Settings.load(), fallback=ExtractiveWriter(0.08), llm=llm), llm


def test_prompt_holds_only_numbered_evidence_and_question() -> None:
    w, llm = writer("The drills stalled due to a 2018 dispute over the flag [1].")
    final_answer(w.stream(Q, EVIDENCE[:2]))
    system, user = llm.prompts[0]
    assert "[n]" not in user and "[1] The exercises had been stalled" in user
    assert "[2] Ahn met" in user and "[3]" not in user
    assert user.rstrip().endswith(Q)
    assert "only" in system.lower()


def test_stream_yields_draft_then_verified_answer() -> None:
    w, _ = writer("The drills stalled due to a 2018 dispute over the flag [1].")
    pieces = list(w.stream(Q, EVIDENCE))
    assert all(isinstance(p, str) for p in pieces[:-1]) and len(pieces) > 2
    answer = pieces[-1]
    assert isinstance(answer, Answer) and not answer.refused
    assert answer.decision == Decision("answered")
    assert answer.citations[0].sentence_id == "news.txt#s0"


def test_invented_answer_is_refused_never_shown() -> None:
    w, _ = writer("Paris [1].")
    answer = final_answer(w.stream("What is the capital of France?", EVIDENCE))
    assert answer.refused and answer.text == REFUSAL and "Paris" not in answer.text
    # the citation check refused, not the model: the engine lets this refusal stand always
    assert answer.decision == Decision("refused", UNVERIFIED, "check")
    assert answer.note.startswith("nothing survived verification")  # the log says why


def test_a_draft_that_only_points_at_a_sentence_is_a_refusal() -> None:
    # measured on the seed conversations: a bare "[n]" came for two unanswerable follow-ups
    # ("How many sailors serve aboard it?") and one answerable one; it is the model finding
    # no answer, which the engine lets stand only where answerability doubts too
    w, _ = writer("[2]")
    answer = final_answer(w.stream(Q, EVIDENCE))
    assert answer.decision == Decision("refused", MODEL_FOUND_NONE, "writer")


def test_unsupported_answer_falls_back_to_extractive() -> None:
    w, _ = writer("The drills stalled over tensions and a 2018 dispute, ceremonial matters [2].")
    answer = final_answer(w.stream(Q, EVIDENCE))
    assert not answer.refused and answer.decision == Decision("answered")
    assert answer.text.startswith(EVIDENCE[0].sentence.text + " [1]")
    assert answer.note.startswith("extractive fallback")
    # quoted sentences are the extractive writer's: the page must not say "written by the LLM"
    assert answer.answerer == "extractive"
    assert answer.evidence == tuple(EVIDENCE)


def test_model_refusal_is_a_refusal() -> None:
    w, _ = writer("The documents don't say.")
    answer = final_answer(w.stream("How many ships?", EVIDENCE))
    assert answer.refused and answer.text == REFUSAL and not answer.citations
    assert answer.decision == Decision("refused", MODEL_FOUND_NONE, "writer")


def test_prompt_files_are_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "p.md").write_text("Question: {question} {extra}", encoding="utf-8")
    with pytest.raises(PromptError, match="placeholders"):
        load_prompt("p", {"question"}, tmp_path)
    with pytest.raises(PromptError, match="missing"):
        load_prompt("absent", set(), tmp_path)
    p = load_prompt("answer_user", {"evidence", "question"})
    assert p.render(evidence="[1] {x}", question="Why?").count("{x}") == 1
    assert set(prompt_hashes()) >= {"answer_system.md", "answer_user.md"}

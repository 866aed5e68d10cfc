"""Answer writers behind one small interface, and the rule that decides to refuse.

A writer streams text pieces and ends with the final Answer. Writers are only called when the
evidence is strong enough: refusal is decided here, in code, from the evidence, never by a model.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from rag.citations import resolve
from rag.retrieval import answer_type, type_match
from rag.types import Answer, Evidence

if TYPE_CHECKING:
    from rag.corpus import Corpus
    from rag.embedding import Embedder
    from rag.settings import Settings

log = logging.getLogger(__name__)

REFUSAL = "The documents don't say."


class AnswerWriter(Protocol):
    name: str

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        """Yield text pieces as they come, then exactly one Answer (always last)."""
        ...


def final_answer(pieces: Iterator[str | Answer]) -> Answer:
    """Drain a writer's stream and return its Answer."""
    answer = None
    for piece in pieces:
        if isinstance(piece, Answer):
            answer = piece
    if answer is None:
        raise RuntimeError("the answer writer ended without an answer")
    return answer


_NUMBER_TOKEN = re.compile(r"\b\d[\d,.]*(?:st|nd|rd|th|s)?\b")


def refusal_reason(question: str, evidence: Sequence[Evidence], min_score: float) -> str | None:
    """Why the evidence does not answer the question, or None when it may.

    Three rules, each cheap and explainable: the best evidence is too weak; a number the
    question names ("5th Fleet", "1999") is in none of the top sentences; the question asks
    when or how many and none of the top sentences holds a date or a number.
    """
    if not evidence or evidence[0].score < min_score:
        return "weak evidence"
    top = " ".join(e.sentence.text for e in evidence[:3]).lower()
    for number in _NUMBER_TOKEN.findall(question.lower()):
        if number not in top:
            return f"no evidence mentions {number}"
    kind = answer_type(question)
    if kind in ("date", "number") and not any(
        type_match(kind, e.sentence.text) for e in evidence[:2]
    ):
        return f"no evidence holds a {kind}"
    return None


def refusal(question: str, evidence: Sequence[Evidence], answerer: str, note: str = "") -> Answer:
    return Answer(question, REFUSAL, True, (), tuple(evidence), answerer, note)


class ExtractiveWriter:
    """Answers with the best evidence sentence, and the runner-up when it scores nearly as well
    (the answer is often split over two sentences); every sentence carries its [n] marker."""

    name = "extractive"

    def __init__(self, second_margin: float = 0.08):
        self.second_margin = second_margin

    def pick(self, question: str, evidence: Sequence[Evidence]) -> list[int]:
        best = evidence[0]
        picked = [0]
        if len(evidence) > 1 and evidence[1].score >= best.score - self.second_margin:
            picked.append(1)
        # read in document order
        return sorted(
            picked, key=lambda i: (evidence[i].sentence.doc_id, evidence[i].sentence.index)
        )

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        parts = []
        for i in self.pick(question, evidence):
            parts.append(f"{evidence[i].sentence.text} [{i + 1}]")
            yield parts[-1] + " "
        text = " ".join(parts)
        yield Answer(question, text, False, resolve(text, evidence), tuple(evidence), self.name)


def make_writer(
    settings: Settings,
    embedder: Embedder | None = None,
    corpus: Callable[[], Corpus] | None = None,
) -> AnswerWriter:
    """The one place that picks the answer writer: "llm", "extractive", or "auto" (the LLM when
    its backend is installed and its model is present, else extractive). The embedder, when
    given, lets the LLM writer check citations by meaning as well as by words; the corpus lets
    it show a small corpus whole (see rag/llm_writer.py)."""
    if settings.answerer == "extractive":
        return ExtractiveWriter()
    from rag.llm_writer import LLMWriter, llm_available

    if settings.answerer == "auto" and not llm_available(settings):
        log.info("LLM answer writer not available; using the extractive one")
        return ExtractiveWriter()
    return LLMWriter(settings, fallback=ExtractiveWriter(), embedder=embedder, corpus=corpus)

"""Answer writers behind one small interface, and the extractive writer.

A writer streams text pieces and ends with the final Answer. Writers are only called when the
evidence is strong enough: refusal is decided before, in code, from the evidence
(rag/search/answerability.py), never by a model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from rag.answer.citations import resolve
from rag.types import Answer, Evidence

REFUSAL = "The documents don't say."
MODEL_FOUND_NONE = "the model found no answer in the evidence"  # an LLM writer's refusal note
LOW_CONFIDENCE = (
    "Low confidence: the closest sentences may not answer exactly this question. "
    "Check the source before relying on it."
)


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


def refusal(question: str, evidence: Sequence[Evidence], answerer: str, note: str = "") -> Answer:
    return Answer(question, REFUSAL, True, (), tuple(evidence), answerer, note)


class ExtractiveWriter:
    """Answers with the best evidence sentence, and the runner-up when it scores nearly as well
    (the answer is often split over two sentences); every sentence carries its [n] marker."""

    name = "extractive"

    def __init__(self, second_margin: float):
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

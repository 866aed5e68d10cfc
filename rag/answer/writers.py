"""Answer writers behind one small interface, and the extractive writer.

A writer streams text pieces and ends with the final Answer. Writers are only called when the
evidence is strong enough: refusal is decided before, in code, from the evidence
(rag/search/answerability.py), never by a model's wording. A writer may still find no answer
in the evidence (the LLM writer's model, or its citation check); it says so in its Answer's
typed `decision`, and the synthesizer (rag/answer/synthesizer.py) weighs that against the
evidence's verdict and sets the final decision.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from rag.answer.citations import resolve
from rag.types import ANSWERED, Answer, DecidedBy, Decision, Evidence

REFUSAL = "The documents don't say."
MODEL_FOUND_NONE = "the model found no answer in the evidence"  # a writer's refusal reason
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


def refusal(
    question: str,
    evidence: Sequence[Evidence],
    answerer: str,
    by: DecidedBy,
    reason: str,
    note: str = "",
) -> Answer:
    """The refusal Answer, decided `by` the evidence's verdict, the writer or the check."""
    decision = Decision("refused", reason, by)
    return Answer(question, REFUSAL, decision, (), tuple(evidence), answerer, note)


class ExtractiveWriter:
    """Answers with the best evidence sentence, and the runner-up when it scores nearly as well
    (by the reader, when it read them; else by the evidence score)
    (the answer is often split over two sentences); every sentence carries its [n] marker,
    numbered in the order the answer reads: the first sentence is [1]."""

    name = "extractive"

    def __init__(self, second_margin: float):
        self.second_margin = second_margin

    def pick(self, question: str, evidence: Sequence[Evidence]) -> list[int]:
        """The evidence indexes to quote, in reading order: two sentences of one document in
        document order; of two documents, the best first."""
        best = evidence[0]
        if len(evidence) < 2 or _rank(evidence[1]) < _rank(best) - self.second_margin:
            return [0]
        second = evidence[1].sentence
        before = second.doc_id == best.sentence.doc_id and second.index < best.sentence.index
        return [1, 0] if before else [0, 1]

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        # the quoted sentences, numbered as they are read; the Answer keeps the ranked evidence
        quoted = [evidence[i] for i in self.pick(question, evidence)]
        parts = []
        for n, e in enumerate(quoted, start=1):
            parts.append(f"{e.sentence.text} [{n}]")
            yield parts[-1] + " "
        text = " ".join(parts)
        yield Answer(question, text, ANSWERED, resolve(text, quoted), tuple(evidence), self.name)


def _rank(evidence: Evidence) -> float:
    """What orders the evidence: the reader's P where it read the sentence, else its score."""
    return evidence.reader if evidence.reader is not None else evidence.score

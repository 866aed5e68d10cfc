"""Small frozen records that flow through the pipeline. Plain data (at most a derived property)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["answered", "low_confidence", "refused"]
DecidedBy = Literal["evidence", "writer", "check"]


@dataclass(frozen=True)
class Document:
    doc_id: str  # path relative to the docs folder, with forward slashes
    text: str
    content_hash: str  # sha256 of the raw bytes
    pages: tuple[int, ...] = ()  # a PDF's: the offset in text where each page starts


@dataclass(frozen=True)
class Sentence:
    id: str  # f"{doc_id}#s{index}": derived from document and position, never random
    doc_id: str
    index: int
    start: int  # document.text[start:end] == text
    end: int
    text: str
    page: int | None = None  # 1-based page of a PDF where the sentence starts


@dataclass(frozen=True)
class Chunk:
    id: str  # f"{doc_id}#c{index}"
    doc_id: str
    index: int
    sentence_ids: tuple[str, ...]
    start: int
    end: int
    text: str  # document.text[start:end]


@dataclass(frozen=True)
class Evidence:
    """A sentence scored as evidence for a question (higher is better, roughly 0..1)."""

    sentence: Sentence
    score: float
    dense: float  # cosine similarity question/sentence
    lexical: float  # share of the question's keyword weight found in the sentence
    reader: float | None = None  # P(the sentence answers the question), by the reader model


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    sentence_id: str
    start: int
    end: int
    text: str
    page: int | None = None  # 1-based page of a PDF where the sentence starts


@dataclass(frozen=True)
class Decision:
    """Whether a question is answered, answered with low confidence, or refused, and why.

    Decided in one place (rag/answer/synthesizer.py) and carried as data: nothing reads it
    back from the answer's wording or its note.
    """

    outcome: Outcome
    reason: str = ""  # for a person: why refused, why low confidence ("" when answered)
    # who decided: the answerability judgement over the evidence, the writer itself finding
    # no answer, or the citation check (nothing the writer wrote could be verified)
    by: DecidedBy = "evidence"

    @property
    def refused(self) -> bool:
        return self.outcome == "refused"

    @property
    def low_confidence(self) -> bool:
        return self.outcome == "low_confidence"


ANSWERED = Decision("answered")


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    decision: Decision
    citations: tuple[Citation, ...] = ()
    # the ranked retrieval result, best first; a citation carries its own n and sentence
    # (its [n] numbers what the writer was shown, so it need not index this tuple)
    evidence: tuple[Evidence, ...] = field(default=(), compare=False)
    answerer: str = "extractive"
    note: str = ""  # free text for logs and eval (fallback, repair); never read to decide
    searched: str = ""  # what retrieval searched for, when a follow-up was rewritten to stand alone

    @property
    def refused(self) -> bool:
        return self.decision.refused

    @property
    def low_confidence(self) -> bool:
        """Answered, but the evidence may well not answer the question."""
        return self.decision.low_confidence

    def to_json(self) -> dict[str, object]:
        """The public JSON contract of `rag ask --json`."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "low_confidence": self.low_confidence,
            "decision": self.decision.outcome,
            "reason": self.decision.reason,
            "searched": self.searched or self.question,
            "citations": [
                {
                    "n": c.n,
                    "doc_id": c.doc_id,
                    "sentence_id": c.sentence_id,
                    "start": c.start,
                    "end": c.end,
                    "text": c.text,
                    "page": c.page,
                }
                for c in self.citations
            ],
        }


@dataclass(frozen=True)
class Exchange:
    """One earlier turn of a conversation: the question as asked, the answer given (empty when
    only the questions are known, as through the /ask API) and what was searched for."""

    question: str
    answer: str = ""
    searched: str = ""

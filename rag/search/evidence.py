"""Pure: what kind of answer a question wants, and sentences scored as evidence for it."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from rag.settings import RetrievalSettings
from rag.text import tokens
from rag.types import Evidence, Sentence

# What kind of answer a question asks for, and what in a sentence looks like one.
_YEAR_OR_DATE = re.compile(
    r"\b(1[5-9]\d\d|20\d\d|January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|"
    r"today|earlier|later|ago|since|century|decade)\b"
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|"
    r"thousand|million|billion|first|second|third|dozen|half)\b",
    re.I,
)
_CAUSE = re.compile(
    r"\b(because|due to|owing to|thanks to|as a result|result(ed|s)? in|amid|caused|led to|"
    r"reasons?|in order to|so as to|so that|in response to)\b",
    re.I,
)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+")


def answer_type(question: str) -> str | None:
    q = question.lower().strip()
    if q.startswith(("when", "what year", "what date", "what month", "in what year", "since when")):
        return "date"
    if q.startswith(("how many", "how much", "how long", "how old", "what percentage")):
        return "number"
    if q.startswith("why") or "what reason" in q or "what caused" in q or "purpose" in q:
        return "cause"
    if q.startswith(("who", "whom", "whose", "where", "which country", "which city")):
        return "name"
    return None


def type_match(kind: str | None, sentence: str) -> float:
    """1.0 when the sentence holds something of the kind the question asks for."""
    if kind is None:
        return 0.0
    pattern = {"date": _YEAR_OR_DATE, "number": _NUMBER, "cause": _CAUSE, "name": _NAME}[kind]
    return 1.0 if pattern.search(sentence) else 0.0


def lexical_coverage(
    question_terms: Sequence[str], sentence: str, idf: Callable[[str], float]
) -> float:
    """Share of the question's keyword weight (IDF) that the sentence contains."""
    terms = set(question_terms)
    if not terms:
        return 0.0
    present = set(tokens(sentence))
    total = sum(idf(t) for t in terms)
    return sum(idf(t) for t in terms if t in present) / total if total else 0.0


def score_evidence(
    question: str,
    question_vector: np.ndarray,
    candidates: Sequence[Sentence],
    vectors: np.ndarray,
    idf: Callable[[str], float],
    previous: Callable[[Sentence], Sentence | None],
    weights: RetrievalSettings,
) -> list[Evidence]:
    """Score each candidate sentence as evidence for the question, best first.

    score = w_dense * dense + w_lexical * lexical + w_type * answer-type match, where dense is
    the cosine of question and sentence and lexical the share of the question's keyword weight
    found in the sentence, or in it and the sentence before (which often holds what "they"
    refers to) at a discount (previous_sentence_weight).
    """
    q_terms = tokens(question)
    kind = answer_type(question)
    dense = vectors @ question_vector if len(candidates) else np.zeros(0)
    out = []
    for sentence, cos in zip(candidates, dense, strict=True):
        lexical = lexical_coverage(q_terms, sentence.text, idf)
        prev = previous(sentence)
        if prev is not None:
            joint = lexical_coverage(q_terms, prev.text + " " + sentence.text, idf)
            lexical = max(lexical, lexical + weights.previous_sentence_weight * (joint - lexical))
        score = (
            weights.weight_dense * float(cos)
            + weights.weight_lexical * lexical
            + weights.weight_type * type_match(kind, sentence.text)
        )
        out.append(Evidence(sentence=sentence, score=score, dense=float(cos), lexical=lexical))
    return sorted(out, key=lambda e: (-e.score, e.sentence.id))


def rerank(evidence: Sequence[Evidence], read: Sequence[float], weight: float) -> list[Evidence]:
    """The first len(read) evidence sentences (best by the evidence score), given the reader's
    probabilities, reordered by logit(P) + weight * score: the reader's reading of the
    question and the first pass's cosine, keyword and answer-type evidence together (each
    alone ranks worse on held-out calibration questions; eval/fit_reranker.py fits the
    weight). The ones it did not read keep their order after."""
    head = [replace(e, reader=float(p)) for e, p in zip(evidence, read, strict=False)]
    head.sort(key=lambda e: (-reading_score(e, weight), e.sentence.id))
    return head + list(evidence[len(head) :])


def reading_score(evidence: Evidence, weight: float) -> float:
    """What orders evidence the reader read: logit(P) + weight * the evidence score."""
    p = evidence.reader if evidence.reader is not None else 0.5
    return logit(p) + weight * evidence.score


def logit(p: float) -> float:
    """log(p / (1 - p)), with p kept within [1e-4, 1 - 1e-4] (the reader's P is float32)."""
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))

"""Pure: does the evidence answer the question at all? Decided here, in code, before any answer
is written: a small model asked to refuse in its prompt still answers "Paris".

Two layers. Rules (`refusal_reason`), cheap and explainable: weak evidence, a number the
question names that no evidence holds, a when/how-many question without a date or count. Then
a calibrated score (`Answerability`): a logistic model over evidence features (how well the best
sentences cover the question's rare words, scores and margins, a negation the sentence lacks,
the answer type), fitted on the SQuAD 2.0 calibration questions by eval/train_answerability.py.
It gives P(unanswerable) and three bands: answer, answer with a "low confidence" note, refuse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.search.evidence import answer_type, logit, type_match
from rag.settings import RetrievalSettings
from rag.text import STOPWORDS, stem, tokens, words
from rag.types import Evidence

# a number as one token: "5th" and "15th" are different numbers, "1999." ends at the 9
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?:st|nd|rd|th|s)?(?!\w)")


# A count, for "how many" and "how much": a cardinal number, in digits or words; an ordinal
# ("7th Fleet", "first") or a year ("2017") answers no such question.
_COUNT = re.compile(
    r"(?<![\w.,])(?!(?:19|20)\d\d(?![\d,]))\d+(?:[.,]\d+)*(?!\d|st|nd|rd|th)|"
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundreds?|thousands?|millions?|billions?|dozens?|half|several|many|few)\b",
    re.I,
)


def numbers(text: str) -> set[str]:
    """The numbers written in the text, as tokens without thousands separators."""
    return {n.replace(",", "") for n in _NUMBER.findall(text.lower())}


def refusal_reason(question: str, evidence: Sequence[Evidence], min_score: float) -> str | None:
    """Why the evidence does not answer the question, or None when it may.

    Four rules, each cheap and explainable: the best evidence is too weak; a number the
    question names ("5th Fleet", "1999") is in none of the top sentences; the question asks
    when or how many and none of the top sentences holds a date or a number; it asks how
    many or how much and none holds a count (an ordinal or a year is none).
    """
    if not evidence or max(e.score for e in evidence) < min_score:
        return "weak evidence"
    top = numbers(" ".join(e.sentence.text for e in evidence[:3]))
    for number in sorted(numbers(question)):
        if number not in top:
            return f"no evidence mentions {number}"
    kind = answer_type(question)
    if kind in ("date", "number") and not any(
        type_match(kind, e.sentence.text) for e in evidence[:2]
    ):
        return f"no evidence holds a {kind}"
    if question.lower().lstrip().startswith(("how many", "how much")) and not any(
        _COUNT.search(e.sentence.text) for e in evidence[:2]
    ):
        return "no evidence holds a count"
    return None


# -- the calibrated score ---------------------------------------------------------------------

_NEGATION = re.compile(r"\b(not|never|no|none|neither|nor|cannot)\b|n't\b", re.I)
_KINDS = ("date", "number", "cause", "name")


class TermStats(Protocol):
    """How common a (stemmed) term is in the corpus (rag.ingest.keyword.KeywordIndex)."""

    def rarity(self, term: str) -> float | None:
        """Its IDF as a share of the largest (0..1); None when no passage holds it."""
        ...

    def share(self, term: str) -> float | None:
        """The share of passages holding it; None when none does."""
        ...


def features(
    question: str, evidence: Sequence[Evidence], terms: TermStats, min_score: float
) -> dict[str, float]:
    """What the answerability model sees, from the question and its ranked evidence.

    Question words are weighed by their rarity in the corpus (IDF as a share of its largest,
    so corpora of any size compare). A word the corpus never uses is set apart: it is how the
    asker words things ("the report", "the story"), not a fact the evidence lacks.
    """
    asked = list(dict.fromkeys(tokens(question)))
    known = {t: r for t in asked if (r := terms.rarity(t)) is not None}
    total = sum(known.values()) or 1.0
    held = [set(tokens(e.sentence.text)) for e in evidence]

    def missing(k: int) -> tuple[float, float]:
        """Share of the question's known keyword weight in none of the top k, and the rarest
        such word's rarity."""
        present = set().union(*held[:k])
        absent = [r for t, r in known.items() if t not in present]
        return sum(absent) / total, max(absent, default=0.0)

    missing_1, missing_3 = missing(1), missing(3)
    scores = [e.score for e in evidence[:2]] + [0.0] * 2
    dense = [e.dense for e in evidence[:2]] + [0.0] * 2
    lexical = [e.lexical for e in evidence[:3]] + [0.0]
    kind = answer_type(question)
    negated = bool(_NEGATION.search(question))
    top_negated = bool(evidence) and bool(_NEGATION.search(evidence[0].sentence.text))
    out = {
        "score_1": scores[0],
        "score_gap": scores[0] - scores[1],
        "dense_1": dense[0],
        "dense_2": dense[1],
        "lexical_1": lexical[0],
        "lexical_max3": max(lexical),
        "missing_1": missing_1[0],
        "missing_rarest_1": missing_1[1],
        "missing_3": missing_3[0],
        "missing_rarest_3": missing_3[1],
        "missing_rarest_all": missing(len(evidence))[1],
        "unknown_words": (len(asked) - len(known)) / len(asked) if asked else 0.0,
        "question_negated": float(negated),
        "negation_not_in_evidence": float(negated and not top_negated),
        "rule_refuses": float(refusal_reason(question, evidence, min_score) is not None),
        "question_words": math.log1p(len(words(question))),
        "new_words_1": math.log1p(len(held[0] - set(asked))) if held else 0.0,
        "type_match_2": float(
            any(type_match(kind, e.sentence.text) for e in evidence[:2]) if kind else 1.0
        ),
    }
    out.update({f"asks_{k}": float(kind == k) for k in _KINDS})
    if evidence and evidence[0].reader is not None:
        read = [e.reader for e in evidence[:2] if e.reader is not None]
        out["reader_1"] = logit(read[0])
        out["reader_2"] = logit(read[-1])  # with one sentence asked for, it stands alone
    return out


_NAME_OR_NUMBER = re.compile(r"(?<!^)\b[A-Z][\w'-]*|\b\d[\d,.]*\w*")


def lacking(
    question: str, evidence: Sequence[Evidence], terms: TermStats, rare_share: float
) -> str:
    """What the question asks that the top evidence visibly lacks, or "": a negation; a name
    or number the documents use; a word the documents use but rarely (in at most `rare_share`
    of their passages). None of the top three sentences holds it. The model refuses only with
    such a reason: it was fitted on questions that reuse the text's words, and a question
    worded differently (a paraphrase: "chiefs" for "ministers") looks unanswerable to it
    without being so."""
    if not evidence:
        return ""
    top = evidence[:3]
    if _NEGATION.search(question) and not _NEGATION.search(top[0].sentence.text):
        return "the question is negated and the evidence is not"
    held = set().union(*(tokens(e.sentence.text) for e in top))
    names = {stem(w.lower()) for w in _NAME_OR_NUMBER.findall(question.strip())}
    for word in words(question):
        term = stem(word)
        share = terms.share(term)
        if word in STOPWORDS or term in held or share is None:
            continue
        if term in names or share <= rare_share:
            return f'no evidence sentence mentions "{word}"'
    return ""


@dataclass(frozen=True)
class Verdict:
    decision: str  # "answer", "low" (answer, with a low-confidence note) or "refuse"
    unanswerable: float  # P(unanswerable), from the calibrated model
    reason: str = ""


@dataclass(frozen=True)
class RulesOnly:
    """The rules alone: refuse when one applies, else answer (RAG_ANSWERABILITY=rules)."""

    min_score: float

    def verdict(self, question: str, evidence: Sequence[Evidence], terms: TermStats) -> Verdict:
        reason = refusal_reason(question, evidence, self.min_score)
        return Verdict("refuse", 1.0, reason) if reason else Verdict("answer", 0.0)


@dataclass(frozen=True)
class Answerability:
    """A logistic model over `features`, with the two cut points fitted beside it."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    low_at: float  # P(unanswerable) from which the answer carries a low-confidence note
    refuse_at: float  # ... and from which it is refused, given a reason (`lacking`)
    rare_share: float = 0.02  # a missing word in at most this share of passages: a reason
    min_score: float = 0.2  # the rules' weak-evidence floor

    @classmethod
    def from_json(cls, data: Mapping[str, object], min_score: float) -> Answerability:
        model = data["model"]
        assert isinstance(model, Mapping)
        return cls(
            names=tuple(model["features"]),
            mean=tuple(map(float, model["mean"])),
            scale=tuple(map(float, model["scale"])),
            weights=tuple(map(float, model["weights"])),
            bias=float(model["bias"]),
            low_at=float(model["low_at"]),
            refuse_at=float(model["refuse_at"]),
            rare_share=float(model["rare_share"]),
            min_score=min_score,
        )

    def unanswerable(self, values: Mapping[str, float]) -> float:
        z = self.bias + sum(
            w * (values[n] - m) / s
            for n, m, s, w in zip(self.names, self.mean, self.scale, self.weights, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def verdict(self, question: str, evidence: Sequence[Evidence], terms: TermStats) -> Verdict:
        if not evidence or max(e.score for e in evidence) < self.min_score:
            return Verdict("refuse", 1.0, "weak evidence")
        p = self.unanswerable(features(question, evidence, terms, self.min_score))
        if p >= self.refuse_at:
            reason = refusal_reason(question, evidence, self.min_score) or lacking(
                question, evidence, terms, self.rare_share
            )
            if reason:
                return Verdict("refuse", p, f"{reason} (P unanswerable {p:.2f})")
        return Verdict("low" if p >= self.low_at else "answer", p)


def make_answerability(settings: RetrievalSettings) -> Answerability | RulesOnly:
    """The packaged calibrated model, or the rules alone, as the settings say."""
    if settings.answerability == "rules":
        return RulesOnly(settings.min_evidence_score)
    import json

    from rag.models.weights import answerability_json

    data = json.loads(answerability_json(settings.reader))
    return Answerability.from_json(data, settings.min_evidence_score)

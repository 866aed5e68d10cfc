"""Pure: does the evidence answer the question at all? Decided here, in code, before any answer
is written: a small model asked to refuse in its prompt still answers "Paris"."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.search.evidence import answer_type, type_match
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
    if not evidence or evidence[0].score < min_score:
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

from __future__ import annotations

from rag.ingest.sentences import split_sentences
from rag.search.answerability import numbers, refusal_reason
from rag.types import Evidence

TEXT = "Talks were held in Nara. The drills stopped in 2017 due to a row. The 15th Fleet sailed."
SENTENCES = split_sentences("doc.txt", TEXT)


def ev(index: int, score: float) -> Evidence:
    return Evidence(sentence=SENTENCES[index], score=score, dense=score, lexical=score)


def test_refusal_rule() -> None:
    assert refusal_reason("Why?", [], 0.2) == "weak evidence"
    assert refusal_reason("Why did the drills stop?", [ev(1, 0.19)], 0.2) == "weak evidence"
    assert refusal_reason("Why did the drills stop?", [ev(1, 0.6)], 0.2) is None
    # a number the question names must appear in the evidence
    assert refusal_reason("Who led the 5th Fleet?", [ev(1, 0.9)], 0.2) == "no evidence mentions 5th"
    assert refusal_reason("What stopped in 2017?", [ev(1, 0.9)], 0.2) is None
    # "when" needs a date in the top evidence
    assert (
        refusal_reason("When were talks held in Nara?", [ev(0, 0.9)], 0.2)
        == "no evidence holds a date"
    )
    assert refusal_reason("When did the drills stop?", [ev(1, 0.9)], 0.2) is None


def test_a_number_must_be_the_same_number_not_a_substring_of_another() -> None:
    # "5th" is inside "15th": the old substring check let this through
    assert refusal_reason("Who led the 5th Fleet?", [ev(2, 0.9)], 0.2) == "no evidence mentions 5th"
    assert refusal_reason("Who led the 15th Fleet?", [ev(2, 0.9)], 0.2) is None
    assert refusal_reason("What happened in 201?", [ev(1, 0.9)], 0.2) == "no evidence mentions 201"


def test_numbers_are_tokens() -> None:
    assert numbers("The 15th fleet, 5,000 troops, in 1999. The 1990s; 1.5 million") == {
        "15th",
        "5000",
        "1999",
        "1990s",
        "1.5",
    }


def test_how_many_needs_a_count_not_an_ordinal_or_a_year() -> None:
    from rag.search.answerability import refusal_reason
    from rag.types import Evidence, Sentence

    def ev(text: str) -> list[Evidence]:
        return [Evidence(Sentence("d#s0", "d", 0, 0, len(text), text), 0.9, 0.9, 0.9)]

    fleet = ev("Ahn met the commander of the U.S. 7th Fleet in 2017 for the first time.")
    assert refusal_reason("How many ships are in the fleet?", fleet, 0.2) == (
        "no evidence holds a count"
    )
    assert refusal_reason("How many ships are in the fleet?", ev("It has 70 ships."), 0.2) is None
    assert refusal_reason("How many years passed?", ev("It took nine years."), 0.2) is None

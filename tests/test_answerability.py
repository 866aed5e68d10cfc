from __future__ import annotations

import json
from dataclasses import replace

import pytest

from rag.ingest.sentences import split_sentences
from rag.models.reader import FOLDER
from rag.models.weights import answerability_json
from rag.search.answerability import (
    Answerability,
    features,
    lacking,
    make_answerability,
    numbers,
    refusal_reason,
)
from rag.settings import RetrievalSettings
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


def _model(**cut: float) -> Answerability:
    """A hand-made model over two features: a rare question word missing from the best sentence
    pushes towards unanswerable, a strong best score away from it."""
    names = tuple(features("Who?", [ev(0, 0.5)], EVERYWHERE, 0.2))
    weights = tuple({"missing_rarest_1": 5.0, "score_1": -1.0}.get(n, 0.0) for n in names)
    return Answerability(
        names=names,
        mean=tuple(0.0 for _ in names),
        scale=tuple(1.0 for _ in names),
        weights=weights,
        bias=0.0,
        low_at=cut.get("low_at", 0.5),
        refuse_at=cut.get("refuse_at", 0.8),
    )


class Terms:
    """Term statistics of a made-up corpus of 100 passages (None: a word none of them uses)."""

    def __init__(self, shares: dict[str, float]):
        self.shares = shares

    def share(self, term: str) -> float | None:
        return self.shares.get(term)

    def rarity(self, term: str) -> float | None:
        share = self.shares.get(term)
        return None if share is None else round(1 - share, 2)


RARITY = Terms({"drill": 0.7, "stop": 0.7, "submarin": 0.01, "korea": 0.5, "flag": 0.3})
EVERYWHERE = Terms({})


def test_features_see_a_rare_question_word_the_evidence_lacks() -> None:
    held = features("Why did the drills stop?", [ev(1, 0.6)], RARITY, 0.2)
    missing = features("Why did the submarines stop?", [ev(1, 0.6)], RARITY, 0.2)
    assert held["missing_rarest_1"] == 0.0 and missing["missing_rarest_1"] == 0.99
    assert missing["missing_1"] == pytest.approx(0.99 / 1.29)  # of submarin 0.99 and stop 0.3
    negated = features("Why did the drills not stop?", [ev(1, 0.6)], RARITY, 0.2)
    assert lacking("Why did the drills not stop?", [ev(1, 0.6)], RARITY, 0.02) == (
        "the question is negated and the evidence is not"
    )
    assert negated["negation_not_in_evidence"] == 1.0 and held["negation_not_in_evidence"] == 0.0


def test_a_word_no_document_uses_is_wording_not_a_missing_fact() -> None:
    # "story" is in no document: the asker's framing, not a fact the evidence lacks
    framed = features("Why did the drills stop in the story?", [ev(1, 0.6)], RARITY, 0.2)
    assert framed["missing_rarest_1"] == 0.0 and framed["missing_1"] == 0.0
    assert framed["unknown_words"] == 1 / 3  # drill, stop, stori


def test_the_model_answers_notes_low_confidence_or_refuses_by_its_cut_points() -> None:
    model = _model(low_at=0.5, refuse_at=0.8)

    def verdict(question: str, score: float) -> str:
        return model.verdict(question, [ev(1, score)], RARITY).decision

    assert verdict("Why did the drills stop?", 0.9) == "answer"  # P = 0.29
    assert verdict("Why did the submarines stop?", 4.0) == "low"  # P = 0.62
    assert verdict("Why did the submarines stop?", 0.9) == "refuse"  # P = 0.97
    assert verdict("Why did the drills stop?", 0.1) == "refuse"  # below the evidence floor
    assert model.verdict("Why?", [], EVERYWHERE).reason == "weak evidence"
    # a high P alone does not refuse: the evidence must visibly lack what is asked
    unsure = model.verdict("Why did the submarines stop?", [ev(1, 0.9)], Terms({"submarin": 0.5}))
    assert unsure.decision == "low"  # "submarines" is common in the documents: maybe reworded


def test_a_refusal_names_what_the_evidence_lacks() -> None:
    def reason(question: str) -> str:
        return lacking(question, [ev(1, 0.6)], RARITY, rare_share=0.02)

    assert reason("Why did the submarines stop?") == 'no evidence sentence mentions "submarines"'
    assert reason("Why did the Korea drills stop?") == 'no evidence sentence mentions "korea"'
    assert reason("Why did the flag drills stop?") == ""  # a common word, perhaps a paraphrase
    assert reason("Why did the drills stop in the story?") == ""  # a word no document uses


def test_the_packaged_model_loads_and_was_fitted_on_calibration_data_only() -> None:
    settings = RetrievalSettings(reader="model")
    model = make_answerability(settings)
    assert isinstance(model, Answerability)
    assert 0.0 < model.low_at < model.refuse_at < 1.0
    data = json.loads(answerability_json())
    assert data["fitted_on"]["file"].endswith("calibration.jsonl")
    assert data["fitted_on"]["questions"] > 1000
    read = replace(ev(0, 0.5), reader=0.5)  # the default model reads the reader's scores too
    assert model.names == tuple(features("Who?", [read], EVERYWHERE, 0.2))
    assert {"reader_1", "reader_2"} <= set(model.names)
    # the reader's fold only: calibration questions of articles the reader never saw
    assert set(data["fitted_on"]["articles"]) == {
        d
        for t in json.loads((FOLDER / "reader.json").read_text())["trained_on"]
        for d in t.get("held_out_calibration_docs", [])
    }
    plain = make_answerability(RetrievalSettings())  # the default: no reader
    assert isinstance(plain, Answerability)
    assert plain.names == tuple(features("Who?", [ev(0, 0.5)], EVERYWHERE, 0.2))
    rules = make_answerability(RetrievalSettings(answerability="rules"))
    assert rules.verdict("Who led the 5th Fleet?", [ev(1, 0.9)], EVERYWHERE).decision == "refuse"

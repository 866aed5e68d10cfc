from __future__ import annotations

from rag.answer.citations import (
    claim_sentences,
    markers,
    resolve,
    strip_markers,
    support,
    verify_answer,
)
from rag.ingest.sentences import split_sentences
from rag.settings import Settings
from rag.types import Evidence
from tests.fakes import HashingEmbedder

RULES = Settings.load().answer

TEXT = (
    "The exercises had been stalled due to tensions, including a 2018 dispute over the flag. "
    "Ahn met Vice Adm. Patrick Hannifin, commander of the U.S. 7th Fleet. "
    "The ministers met at Yokosuka on January 30."
)
EVIDENCE = [
    Evidence(sentence=s, score=0.9 - 0.1 * s.index, dense=0.5, lexical=0.5)
    for s in split_sentences("news.txt", TEXT)
]
Q = "Why were the drills suspended?"


def test_markers_and_resolution() -> None:
    assert markers("A [2] b [1][2] c [9]") == [2, 1, 9]
    cites = resolve("A [2] b [9]", EVIDENCE)
    assert [c.n for c in cites] == [2]  # [9] names no evidence sentence
    assert TEXT[cites[0].start : cites[0].end] == cites[0].text
    assert strip_markers("It stalled [1][2].") == "It stalled."


def test_claims_keep_abbreviations_and_trailing_markers() -> None:
    claims = claim_sentences("Ahn met Vice Adm. Patrick Hannifin. [2] They talked. [3]")
    assert claims == ["Ahn met Vice Adm. Patrick Hannifin.[2]", "They talked.[3]"]


def test_support_rules() -> None:
    src = [EVIDENCE[0].sentence.text]
    assert support(
        "The drills were suspended due to a 2018 dispute over the flag.", src, Q, None, RULES
    ).supported
    wrong_year = support("The drills were suspended due to a 2019 dispute.", src, Q, None, RULES)
    assert not wrong_year.supported and "2019" in wrong_year.reason
    wrong_name = support("The drills were suspended because of Paris.", src, Q, None, RULES)
    assert not wrong_name.supported and "Paris" in wrong_name.reason
    unrelated = support("The weather was cold and the sea rough.", src, Q, None, RULES)
    assert not unrelated.supported
    assert not support("Anything.", [], Q, None, RULES).supported
    # the thresholds are settings: a paraphrase close in meaning passes on similarity alone
    loose = Settings.load(support_min_coverage=0.99, support_similarity_slack=0.99).answer
    paraphrase = "Tensions and a quarrel over a banner halted the drills."
    assert not support(paraphrase, src, Q, None, loose).supported
    assert support(paraphrase, src, Q, 0.9, loose).supported


def test_verify_keeps_supported_answer() -> None:
    v = verify_answer(
        "The drills stalled due to a 2018 dispute over the flag [1].", Q, EVIDENCE, RULES
    )
    assert v.text and not v.repaired
    assert [c.sentence_id for c in v.citations] == ["news.txt#s0"]


def test_verify_recites_a_wrongly_cited_claim() -> None:
    v = verify_answer(
        "Ahn met Vice Adm. Patrick Hannifin of the 7th Fleet. [1]",
        "Whom did Ahn meet?",
        EVIDENCE,
        RULES,
    )
    assert v.repaired and v.text.endswith("[2]")
    assert [c.sentence_id for c in v.citations] == ["news.txt#s1"]


def test_verify_rejects_unsupported_answer() -> None:
    v = verify_answer(
        "Paris [1].", "What is the capital of France?", EVIDENCE, RULES, HashingEmbedder().embed
    )
    assert v.text == "" and v.problems
    v = verify_answer("The drills stalled in 1999 [1].", Q, EVIDENCE, RULES)
    assert v.text == ""


def test_a_claim_completed_from_a_second_sentence_cites_both() -> None:
    # the model cites the sentence it drew on, and adds a name another sentence gives
    v = verify_answer(
        "Ahn met Patrick Hannifin at Yokosuka. [2]", "Whom did Ahn meet?", EVIDENCE, RULES
    )
    assert [c.sentence_id for c in v.citations] == ["news.txt#s1", "news.txt#s2"]
    assert v.text.endswith("[2][3]") and "also cites [3]" in v.problems[0]
    # a claim its cited sentence hardly holds is re-cited, not completed
    v = verify_answer(
        "Ahn met Patrick Hannifin at Yokosuka. [1]", "Whom did Ahn meet?", EVIDENCE, RULES
    )
    assert v.text == "" or "news.txt#s0" not in [c.sentence_id for c in v.citations]

from __future__ import annotations

import numpy as np

from rag.ingest.sentences import split_sentences
from rag.search.evidence import answer_type, lexical_coverage, score_evidence, type_match
from rag.search.fusion import rrf
from rag.settings import RetrievalSettings, Settings

WEIGHTS = Settings.load().retrieval


def test_rrf_rewards_items_ranked_well_by_both() -> None:
    fused = rrf([["a", "b", "c"], ["b", "d"]])
    ids = [i for i, _ in fused]
    assert ids[0] == "b"  # found by both rankers
    assert set(ids) == {"a", "b", "c", "d"}
    assert ids.index("a") < ids.index("d") < ids.index("c")
    assert rrf([]) == []


def test_rrf_ties_are_broken_by_id_for_stable_output() -> None:
    assert [i for i, _ in rrf([["b"], ["a"]])] == ["a", "b"]


def test_rrf_constant_sets_how_much_rank_matters() -> None:
    # "a" is first in two rankings; "b" is third in all three. A small k favours top ranks,
    # a large one agreement.
    rankings = [["a", "x", "b"], ["a", "y", "b"], ["z", "w", "b"]]
    assert rrf(rankings, k=1)[0][0] == "a"
    assert rrf(rankings, k=60)[0][0] == "b"


def test_answer_types() -> None:
    assert answer_type("When were the drills last held?") == "date"
    assert answer_type("How many ships?") == "number"
    assert answer_type("Why were the drills suspended?") == "cause"
    assert answer_type("Who met Koizumi?") == "name"
    assert answer_type("What did they discuss?") is None
    assert type_match("cause", "It stalled due to tensions.") == 1.0
    assert type_match("date", "The last drills were in 2017.") == 1.0
    assert type_match("date", "They met.") == 0.0


def test_lexical_coverage_weights_rare_words() -> None:
    idf = {"drill": 3.0, "suspend": 1.0}.get
    assert (
        lexical_coverage(["drill", "suspend"], "The drills resumed.", lambda t: idf(t) or 1.0)
        == 0.75
    )
    assert lexical_coverage([], "anything", lambda t: 1.0) == 0.0


def test_score_evidence_prefers_the_sentence_that_answers() -> None:
    text = (
        "The navies agreed to resume the drills. "
        "The drills had been stalled due to a dispute over a flag. "
        "The weather was mild."
    )
    sentences = split_sentences("d", text)
    # dense similarity: first sentence closest, as a real embedder often has it
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    q = np.array([1.0, 0.0], dtype=np.float32)

    def rank(weights: RetrievalSettings) -> list[int]:
        evidence = score_evidence(
            "Why were the drills stalled?",
            q,
            sentences,
            vectors,
            lambda t: 1.0,
            lambda s: None,
            weights,
        )
        assert all(0.0 <= e.lexical <= 1.0 for e in evidence)
        return [e.sentence.index for e in evidence]

    ranked = rank(WEIGHTS)
    assert ranked[0] == 1 and ranked[-1] == 2
    # the weights are settings: with only the dense weight, the closest sentence wins
    assert rank(Settings.load(weight_lexical=0.0, weight_type=0.0).retrieval)[0] == 0

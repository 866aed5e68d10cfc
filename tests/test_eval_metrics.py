"""The pure metrics: SQuAD scoring, retrieval ranks, citations, refusals, percentiles."""

from __future__ import annotations

import pytest

from rag.eval.metrics import (
    CitationCounts,
    QuestionScore,
    answer_scores,
    check_thresholds,
    citation_counts,
    contains_gold,
    exact_match,
    f1,
    first_hit_rank,
    mean_reciprocal_rank,
    normalize_answer,
    percentile,
    recall_at_k,
    refusal_precision_recall,
    strip_markers,
    summarize,
    summarize_by_type,
    token_f1,
)


def test_normalize_answer_is_squads() -> None:
    assert normalize_answer("The  Rising-Sun Flag!") == "risingsun flag"
    assert normalize_answer("An apple, a pear and the plum.") == "apple pear and plum"
    assert normalize_answer("Theatre") == "theatre"  # articles only as whole words


def test_strip_markers() -> None:
    assert (
        strip_markers("Due to tensions [1] and a dispute [12].") == "Due to tensions and a dispute."
    )
    assert strip_markers("[1]") == ""


def test_exact_match_and_f1_take_the_best_gold() -> None:
    golds = ["Shinjiro Koizumi", "Koizumi"]
    assert exact_match("koizumi.", golds) == 1.0
    assert exact_match("Mr Koizumi", golds) == 0.0
    assert f1("Mr Koizumi", golds) == pytest.approx(2 / 3)
    assert token_f1("the cat sat", "cat sat down") == pytest.approx(0.8)
    assert token_f1("", "") == 1.0
    assert token_f1("a", "cat") == 0.0  # normalises to nothing against something


def test_answer_scores_follow_squad2() -> None:
    # unanswerable: right only when refused
    assert answer_scores("The documents don't say.", True, [], True) == (1.0, 1.0)
    assert answer_scores("Paris [1]", False, [], True) == (0.0, 0.0)
    # answerable: a refusal scores nothing; markers are not part of the answer
    assert answer_scores("x", True, ["2017"], False) == (0.0, 0.0)
    assert answer_scores("In 2017 [1].", False, ["in 2017"], False) == (1.0, 1.0)
    em, score = answer_scores("They were last held in 2017 [2].", False, ["2017"], False)
    assert em == 0.0 and score == pytest.approx(2 * (1 / 6) / (1 / 6 + 1))  # 1 of 6 tokens


def test_ranks_recall_and_mrr() -> None:
    ranked = [("s1",), ("s2", "s3"), ("s4",)]
    assert first_hit_rank(ranked, {"s3"}) == 2
    assert first_hit_rank(ranked, {"s9"}) is None
    assert first_hit_rank(ranked, set()) is None
    ranks = [1, 2, None, 4]
    assert recall_at_k(ranks, 1) == 0.25
    assert recall_at_k(ranks, 3) == 0.5
    assert recall_at_k(ranks, 5) == 0.75
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 0.5 + 0.25) / 4)
    assert recall_at_k([], 3) is None and mean_reciprocal_rank([]) is None


def test_citation_counts_per_sentence_and_per_marker() -> None:
    # marker 1 names one supporting sentence; marker 2 a chunk of three, one supporting
    cited = [(1, "a"), (2, "b"), (2, "c"), (2, "d")]
    counts = citation_counts(cited, support={"a", "c"}, gold={"a", "e"})
    assert counts == CitationCounts(
        sentences=4, supported=2, markers=2, markers_supported=2, gold_cited=0.5
    )
    assert citation_counts(cited, {"a"}, {"a", "e"}, gold_alternatives=True).gold_cited == 1.0
    assert citation_counts([], {"a"}, {"a"}).gold_cited == 0.0
    assert citation_counts([(1, "a"), (1, "a")], {"a"}, set()).sentences == 1
    assert citation_counts([], set(), set()).gold_cited is None


def test_refusal_precision_recall() -> None:
    refused = [True, True, False, False, True]
    impossible = [True, False, True, False, True]
    p, r = refusal_precision_recall(refused, impossible)
    assert p == pytest.approx(2 / 3) and r == pytest.approx(2 / 3)
    assert refusal_precision_recall([False], [False]) == (None, None)


def test_percentile_interpolates_like_numpy() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def _score(**kw: object) -> QuestionScore:
    base: dict[str, object] = {
        "id": "q",
        "type": "who",
        "impossible": False,
        "refused": False,
        "exact_match": 0.0,
        "f1": 0.5,
        "rank": 1,
        "has_gold": True,
        "citations": CitationCounts(1, 1, 1, 1, 1.0),
        "latency_s": 0.1,
    }
    base.update(kw)
    return QuestionScore(**base)  # type: ignore[arg-type]


def test_summarize_a_small_set() -> None:
    scores = [
        _score(id="a", exact_match=1.0, f1=1.0, contains_gold=True),
        _score(id="b", rank=None, citations=CitationCounts(2, 0, 2, 0, 0.0), latency_s=0.3),
        _score(id="c", refused=True, f1=0.0, rank=3, citations=CitationCounts(0, 0, 0, 0, 0.0)),
        _score(
            id="d",
            type="impossible",
            impossible=True,
            refused=True,
            exact_match=1.0,
            f1=1.0,
            rank=None,
            has_gold=False,
            citations=CitationCounts(0, 0, 0, 0, None),
        ),
        _score(
            id="e",
            type="impossible",
            impossible=True,
            f1=0.0,
            rank=None,
            has_gold=False,
            citations=CitationCounts(1, 0, 1, 0, None),
        ),
    ]
    m = summarize(scores)
    assert (m["questions"], m["answerable"], m["unanswerable"], m["refused"]) == (5, 3, 2, 2)
    assert m["retrieval_recall@1"] == pytest.approx(1 / 3)
    assert m["retrieval_recall@3"] == pytest.approx(2 / 3)
    assert m["retrieval_mrr"] == pytest.approx((1 + 1 / 3) / 3)
    assert m["exact_match"] == pytest.approx(2 / 5)
    assert m["answerable_f1"] == pytest.approx(1.5 / 3)
    assert m["unanswerable_accuracy"] == 0.5
    # over answered answerable questions only (a and b): 1 of 3 cited sentences supports
    assert m["citation_precision"] == pytest.approx(1 / 3)
    assert m["citation_precision_per_marker"] == pytest.approx(1 / 3)
    # a cites its gold, b does not, c refused
    assert m["citation_recall"] == pytest.approx(1 / 3)
    assert m["refusal_precision"] == 0.5 and m["refusal_recall"] == 0.5
    assert m["false_refusal_rate"] == pytest.approx(1 / 3)  # c
    # over answered answerable questions (a and b): a holds its gold and cites a gold sentence
    assert m["answer_contains_gold"] == 0.5 and m["answered_citing_gold"] == 0.5
    assert m["latency_p50_s"] == pytest.approx(0.1)
    by_type = summarize_by_type(scores)
    assert set(by_type) == {"who", "impossible"}
    assert by_type["who"]["questions"] == 3 and by_type["impossible"]["refused"] == 1


def test_errors_do_not_count_in_latency() -> None:
    m = summarize([_score(latency_s=0.2), _score(id="x", latency_s=0.0, error="boom")])
    assert m["errors"] == 1 and m["latency_p95_s"] == pytest.approx(0.2)


def test_contains_gold_wants_whole_words_of_a_gold_answer() -> None:
    answer = "The drills were last held in 2017 off Yokosuka [2]."
    assert contains_gold(answer, ["nothing", "in 2017"])
    assert contains_gold(answer, ["the Yokosuka"])  # normalised: articles and case
    assert not contains_gold(answer, ["201"])  # a part of a word is not the answer
    assert not contains_gold(answer, [""]) and not contains_gold(answer, [])


def test_a_maximum_bounds_a_metric_from_above() -> None:
    # plain values, no "bounds": each value is read as it is (see test_eval_bounds.py)
    metrics = {"false_refusal_rate": 0.2, "refusal_recall": 0.6}
    assert check_thresholds(metrics, {"max:false_refusal_rate": 0.25}) == []
    assert check_thresholds(metrics, {"max:false_refusal_rate": 0.15, "refusal_recall": 0.5}) == [
        "false_refusal_rate: 0.200 (no bound) vs maximum 0.150: FAIL"
    ]


def test_check_thresholds_lists_each_failure() -> None:
    metrics = {"f1": 0.4, "retrieval_recall@3": 0.9, "refusal_precision": None}
    assert check_thresholds(metrics, {"f1": 0.3, "retrieval_recall@3": 0.9}) == []
    failures = check_thresholds(metrics, {"f1": 0.5, "refusal_precision": 0.1, "nonexistent": 0.0})
    assert failures == [
        "f1: 0.400 (no bound) vs minimum 0.500: FAIL",
        "nonexistent: no value vs minimum 0.000: FAIL",
        "refusal_precision: no value vs minimum 0.100: FAIL",
    ]


def test_check_thresholds_reads_the_bounds_summarize_records() -> None:
    # 4 of 5 answered questions hold their gold: 0.8 meets 0.7, its lower bound does not
    scores = [_score(id=f"q{i}", contains_gold=i < 4) for i in range(5)]
    m = summarize(scores)
    assert m["answer_contains_gold"] == 0.8
    assert m["counts"] == {
        "retrieval_recall@1": [5, 5],
        "retrieval_recall@3": [5, 5],
        "retrieval_recall@5": [5, 5],
        "exact_match": [0, 5],
        "answerable_exact_match": [0, 5],
        "answer_contains_gold": [4, 5],
        "citation_precision": [5, 5],
        "citation_precision_per_marker": [5, 5],
        "answered_citing_gold": [5, 5],
        "false_refusal_rate": [0, 5],
        "low_confidence_rate": [0, 5],
        "right_when_confident": [5, 5],
    }
    assert check_thresholds(m, {"answer_contains_gold": 0.7}) == [
        "answer_contains_gold: 0.800 (95% bound 0.435) vs minimum 0.700: FAIL"
    ]
    assert summarize(scores, with_bounds=False).keys().isdisjoint({"counts", "bounds"})


def test_the_low_confidence_note_is_counted_and_each_band_scored() -> None:
    """Rate of the note over answered answerable questions; in each band, the share of answers
    that are right (answerable, a gold sentence cited): an answered unanswerable one is wrong."""
    scores = [
        _score(id="a", low_confidence=False),
        _score(id="b", low_confidence=True),
        _score(id="c", low_confidence=True, impossible=True, has_gold=False),
        _score(id="d", refused=True),
    ]
    m = summarize(scores)
    assert m["low_confidence_rate"] == 0.5  # b of a, b (c is unanswerable, d refused)
    assert m["right_when_confident"] == 1.0
    assert m["right_when_low"] == 0.5  # b right, c wrong
    assert m["counts"]["right_when_low"] == [1, 2]

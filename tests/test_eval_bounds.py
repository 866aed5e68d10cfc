"""Gates that measure: Wilson and bootstrap bounds, thresholds read against them, the paired
bootstrap against a previous run, and the counts `summarize` records."""

from __future__ import annotations

from typing import Any

import pytest

from rag.eval.bounds import (
    GateLine,
    Part,
    bootstrap_bounds,
    confidence_label,
    gate_lines,
    paired_line,
    paired_lines,
)
from rag.eval.conversations import summarize_turns
from rag.eval.metrics import (
    NOT_METRICS,
    CitationCounts,
    QuestionScore,
    check_thresholds,
    question_parts,
    summarize,
    wilson_interval,
)
from rag.eval.report import gate_failures, gate_record


def _score(qid: str, **kw: Any) -> QuestionScore:
    base: dict[str, Any] = {
        "id": qid,
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
    return QuestionScore(**base)


def _refusal_set(refused_unanswerable: int, refused_answerable: int) -> list[QuestionScore]:
    """19 unanswerable and 58 answerable questions, the seed set's shape."""
    scores = [
        _score(
            f"u{i}", impossible=True, has_gold=False, rank=None, refused=i < refused_unanswerable
        )
        for i in range(19)
    ]
    scores += [_score(f"a{i}", refused=i < refused_answerable) for i in range(58)]
    return scores


# -- Wilson -----------------------------------------------------------------------------------


def test_wilson_matches_known_values() -> None:
    lo, hi = wilson_interval(8, 10, z=1.96)
    assert lo == pytest.approx(0.4902, abs=5e-4) and hi == pytest.approx(0.9433, abs=5e-4)
    # all successes: the upper end is 1, the lower 1 / (1 + z^2 / n)
    assert wilson_interval(10, 10) == pytest.approx((1 / (1 + 1.645**2 / 10), 1.0))
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2130, abs=5e-4)
    # the default is one-sided 95%: narrower than z=1.96
    assert wilson_interval(8, 10)[0] > wilson_interval(8, 10, z=1.96)[0]
    assert confidence_label(1.645) == "95%" and confidence_label(1.96) == "97.5%"


@pytest.mark.parametrize(("k", "n"), [(0, 0), (3, 2), (-1, 4)])
def test_wilson_refuses_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(k, n)


# -- what summarize records -------------------------------------------------------------------


def test_summarize_records_the_counts_behind_each_share() -> None:
    scores = [
        _score("a", exact_match=1.0, f1=1.0, contains_gold=True),
        _score("b", rank=None, citations=CitationCounts(2, 0, 2, 0, 0.0)),
        _score("c", refused=True, f1=0.0, rank=3, citations=CitationCounts(0, 0, 0, 0, 0.0)),
        _score("d", impossible=True, refused=True, exact_match=1.0, f1=1.0, rank=None,
               has_gold=False, citations=CitationCounts(0, 0, 0, 0, None)),
        _score("e", impossible=True, f1=0.0, rank=None, has_gold=False,
               citations=CitationCounts(1, 0, 1, 0, None)),
    ]  # fmt: skip
    m = summarize(scores)
    counts = m["counts"]
    assert isinstance(counts, dict)
    assert counts["refusal_recall"] == [1, 2] and counts["refusal_precision"] == [1, 2]
    assert counts["false_refusal_rate"] == [1, 3]
    assert counts["retrieval_recall@1"] == [1, 3] and counts["retrieval_recall@3"] == [2, 3]
    assert counts["citation_precision"] == [1, 3]  # supported of cited sentences (a and b)
    assert counts["answer_contains_gold"] == [1, 2] and counts["exact_match"] == [2, 5]
    # means of fractional values have no counts: they are bootstrapped
    assert not {"f1", "answerable_f1", "retrieval_mrr", "citation_recall"} & set(counts)
    bounds = m["bounds"]
    assert isinstance(bounds, dict)
    assert bounds["f1"]["method"] == "bootstrap"
    assert bounds["refusal_recall"]["method"] == "wilson"
    assert bounds["refusal_recall"]["lower"] == pytest.approx(wilson_interval(1, 2)[0])
    assert m["bounds_z"] == 1.645 and "latency_p50_s" not in bounds
    # the parts add up to the very values summarize reports, for every bounded metric
    pooled: dict[str, list[Part]] = {}
    for s in scores:
        for name, part in question_parts(s).items():
            pooled.setdefault(name, []).append(part)
    for name, bound in bounds.items():
        value = m[name]
        assert isinstance(value, float)
        parts = pooled[name]
        assert sum(p[0] for p in parts) / sum(p[1] for p in parts) == pytest.approx(value), name
        assert bound["lower"] <= value <= bound["upper"], name
    assert not NOT_METRICS & {k for k, v in m.items() if isinstance(v, int | float)} - {"bounds_z"}


def test_the_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    parts = [(x / 10, 1.0) for x in (0, 1, 3, 3, 5, 6, 8, 9, 9, 10)]
    first = bootstrap_bounds(parts)
    assert first == bootstrap_bounds(parts)  # deterministic
    assert first is not None
    lo, hi = first
    assert lo < 0.54 < hi and hi - lo < 0.5
    assert bootstrap_bounds(parts, seed=1) != first  # the seed is what makes it repeat
    assert bootstrap_bounds([(0.4, 1.0)] * 30) == pytest.approx((0.4, 0.4))
    assert bootstrap_bounds([]) is None


# -- thresholds read against the bounds -------------------------------------------------------


def test_a_minimum_the_value_meets_but_its_bound_does_not_fails() -> None:
    m = summarize(_refusal_set(refused_unanswerable=13, refused_answerable=0))
    assert m["refusal_recall"] == pytest.approx(13 / 19)  # 0.684, above 0.65
    assert check_thresholds(m, {"refusal_recall": 0.65}) == [
        "refusal_recall: 0.684 (95% bound 0.496) vs minimum 0.650: FAIL"
    ]
    assert check_thresholds(m, {"refusal_recall": 0.45}) == []
    # the same share on ten times the questions is known well enough to pass
    big = summarize(
        [
            _score(f"u{i}", impossible=True, has_gold=False, rank=None, refused=i % 19 < 13)
            for i in range(190)
        ]
    )
    assert check_thresholds(big, {"refusal_recall": 0.62}) == []


def test_a_maximum_reads_the_upper_bound() -> None:
    m = summarize(_refusal_set(refused_unanswerable=10, refused_answerable=1))
    assert m["false_refusal_rate"] == pytest.approx(1 / 58)  # 0.017, below 0.04
    (line,) = gate_lines(m, {"max:false_refusal_rate": 0.04})
    assert line.kind == "maximum" and line.bound == pytest.approx(0.0737, abs=5e-4)
    assert not line.ok
    assert line.text() == "false_refusal_rate: 0.017 (95% bound 0.074) vs maximum 0.040: FAIL"
    assert check_thresholds(m, {"max:false_refusal_rate": 0.08}) == []


def test_every_gated_metric_gets_a_line() -> None:
    m = summarize(_refusal_set(refused_unanswerable=10, refused_answerable=0))
    lines = gate_lines(m, {"f1": 0.1, "refusal_recall": 0.9, "max:false_refusal_rate": 0.1})
    assert [(g.name, g.ok) for g in lines] == [  # in the order of the thresholds' keys
        ("f1", True),
        ("false_refusal_rate", True),
        ("refusal_recall", False),
    ]
    assert lines[0].text().startswith("f1: 0.") and lines[0].text().endswith(": ok")


def test_metrics_without_a_bound_or_a_value() -> None:
    metrics = {"latency_p95_s": 2.0, "refusal_precision": None}
    assert check_thresholds(
        metrics, {"max:latency_p95_s": 1.5, "refusal_precision": 0.1, "nonexistent": 0.0}
    ) == [
        "latency_p95_s: 2.000 (no bound) vs maximum 1.500: FAIL",
        "nonexistent: no value vs minimum 0.000: FAIL",
        "refusal_precision: no value vs minimum 0.100: FAIL",
    ]
    assert GateLine("x", "minimum", 0.5, 0.6, None).ok  # no bound: the value is read


def test_conversation_shares_count_turns() -> None:
    rows = [
        {"turn": 1 + i % 4, "right": i < 30, "rewrite_right": True, "impossible": i >= 36,
         "refused": i >= 38, "latency_s": 0.1, "note": ""}
        for i in range(40)
    ]  # fmt: skip
    m = summarize_turns(rows)
    assert m["turn_accuracy"] == 0.75 and m["counts"]["turn_accuracy"] == [30, 40]
    assert m["counts"]["follow_up_accuracy"][1] == 30  # turns after the first
    assert m["counts"]["refusal_recall"] == [2, 4]
    assert m["bounds"]["turn_accuracy"]["lower"] == pytest.approx(wilson_interval(30, 40)[0])
    assert check_thresholds(m, {"turn_accuracy": 0.7}) == [
        "turn_accuracy: 0.750 (95% bound 0.624) vs minimum 0.700: FAIL"
    ]


# -- against a previous run -------------------------------------------------------------------


def _parts(scores: list[QuestionScore]) -> dict[str, dict[str, Part]]:
    return {s.id: question_parts(s) for s in scores}


def _answers(right: int, total: int = 40) -> list[QuestionScore]:
    return [
        _score(f"q{i}", f1=1.0 if i < right else 0.2, contains_gold=i < right) for i in range(total)
    ]


def test_the_paired_bootstrap_flags_a_clear_regression() -> None:
    old, new = _parts(_answers(36)), _parts(_answers(26))
    line = paired_line("answer_contains_gold", "minimum", new, old)
    assert line.questions == 40 and line.new == pytest.approx(0.65) and line.old == 0.9
    assert line.upper is not None and line.upper < 0 and not line.ok
    assert line.text().startswith("answer_contains_gold: 0.650 vs previous 0.900 on 40 paired")
    assert line.text().endswith(": FAIL") and "change -0.250" in line.text()
    assert not paired_line("f1", "minimum", new, old).ok
    # the other way round it is an improvement, and a max: metric reads the lower bound
    assert paired_line("answer_contains_gold", "minimum", old, new).ok
    refusing = _parts([_score(f"q{i}", refused=i < 12) for i in range(40)])
    answering = _parts([_score(f"q{i}") for i in range(40)])
    assert not paired_line("false_refusal_rate", "maximum", refusing, answering).ok
    assert paired_line("false_refusal_rate", "maximum", answering, refusing).ok


def test_identical_runs_and_a_single_flip_are_not_flagged() -> None:
    old = _parts(_answers(30))
    same = paired_line("answer_contains_gold", "minimum", old, dict(old))
    assert (same.lower, same.upper) == (0.0, 0.0) and same.ok
    one_worse = paired_line("answer_contains_gold", "minimum", _parts(_answers(29)), old)
    assert one_worse.ok and one_worse.upper == 0.0  # one question of 40 is not evidence
    assert one_worse == paired_line("answer_contains_gold", "minimum", _parts(_answers(29)), old)


def test_only_the_questions_both_runs_hold_are_paired() -> None:
    old = _parts(_answers(40))
    new = {f"other{k}": v for k, v in _parts(_answers(0)).items()}
    line = paired_line("answer_contains_gold", "minimum", new, old)
    assert line.questions == 0 and line.ok and line.text().endswith("skipped")
    lines = paired_lines(new | old, old, {"answer_contains_gold": 0.5, "max:f1": 1.0})
    assert [(p.name, p.kind, p.questions) for p in lines] == [
        ("answer_contains_gold", "minimum", 40),
        ("f1", "maximum", 40),
    ]


def test_the_gate_record_holds_both_checks() -> None:
    scores = _answers(26)
    m = summarize(scores)
    gate = gate_record(
        m,
        {"answer_contains_gold": 0.4},
        source="t.json",
        answerer="extractive",
        parts=_parts(scores),
        previous=_parts(_answers(36)),
        previous_source="old.json",
    )
    assert gate["lines"][0]["ok"] and gate["lines"][0]["bound"] < 0.65
    assert gate["previous"]["paired_questions"] == 40 and not gate["passed"]
    assert gate_failures(gate) == [gate["previous"]["lines"][0]["line"]]
    alone = gate_record(m, {"answer_contains_gold": 0.4}, source="t.json", answerer="x")
    assert alone["passed"] and alone["previous"] is None and gate_failures(alone) == []

"""Pure evaluation metrics over plain data: SQuAD-style answer scores, retrieval recall@k and
MRR, citation precision and recall, refusal precision and recall, latency percentiles, and the
threshold check that gates CI, read against confidence bounds (Wilson, bootstrap) and, given a
previous run, a paired bootstrap. No I/O, no models (the runner is rag/eval/runner.py).

Definitions (also in eval/README.md):

- **Answers** are scored as in SQuAD 2.0: lowercase, ASCII punctuation and the articles a/an/the
  removed, whitespace collapsed; exact match and token F1 take the best gold answer. The `[n]`
  markers are stripped first. An unanswerable question scores 1 when refused, else 0; an
  answerable one scores 0 when refused.
- **Retrieval** ranks units (one sentence each for our pipeline, a chunk's sentences for the
  baseline); a question's rank is that of the first unit holding a gold sentence. Recall@k and
  MRR are averaged over answerable questions whose gold sentences were found in the corpus.
- **Citations**: a cited sentence supports the answer when it is in the question's support set
  (its gold sentences, the gold passage's sentences, or a sentence of the gold document that
  contains a gold answer). Precision is over all sentences cited in answers to answerable
  questions (per sentence, and per [n] marker); recall is the share of a question's gold
  sentences that its answer cites (or 1 when gold sentences are alternatives and one is cited),
  averaged over answerable questions (a refusal cites none).
- **Answers that hold the gold**: `answer_contains_gold` is the share of answered answerable
  questions whose normalised answer contains a normalised gold answer as whole words;
  `answered_citing_gold` the share of them whose citations include a gold sentence.
- **Refusals**: refusing is the positive class, an unanswerable question the true label;
  `false_refusal_rate` is the share of answerable questions refused.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from rag.eval.bounds import Z_ONE_SIDED_95, Part, metric_bounds

# the bounds and the gate live in rag.eval.bounds; these two are named here too
from rag.eval.bounds import check_thresholds as check_thresholds
from rag.eval.bounds import wilson_interval as wilson_interval

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_MARKER = re.compile(r"\s*\[\d{1,3}\]")


# -- answers ----------------------------------------------------------------------------------


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lowercase, drop punctuation and articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def strip_markers(text: str) -> str:
    """The answer without its [n] citation markers."""
    return _MARKER.sub("", text).strip()


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def token_f1(prediction: str, gold: str) -> float:
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, golds: Sequence[str]) -> float:
    return max((token_f1(prediction, g) for g in golds), default=0.0)


def contains_gold(text: str, golds: Sequence[str]) -> bool:
    """A normalised gold answer appears, as whole words, in the normalised answer: the fair
    test of a sentence-long answer, where exact match and F1 punish the words around it."""
    answer = f" {normalize_answer(strip_markers(text))} "
    return any(f" {g} " in answer for g in map(normalize_answer, golds) if g)


def answer_scores(
    text: str, refused: bool, golds: Sequence[str], impossible: bool
) -> tuple[float, float]:
    """(exact match, F1) of one answer, SQuAD 2.0 style."""
    if impossible or not golds:
        return (1.0, 1.0) if refused else (0.0, 0.0)
    if refused:
        return 0.0, 0.0
    prediction = strip_markers(text)
    return exact_match(prediction, golds), f1(prediction, golds)


# -- retrieval --------------------------------------------------------------------------------


def first_hit_rank(ranked: Sequence[Collection[str]], gold: Collection[str]) -> int | None:
    """1-based rank of the first unit holding a gold sentence id, or None."""
    for rank, unit in enumerate(ranked, start=1):
        if any(sid in gold for sid in unit):
            return rank
    return None


def recall_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    if not ranks:
        return None
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float | None:
    if not ranks:
        return None
    return sum(1.0 / r for r in ranks if r is not None) / len(ranks)


# -- citations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CitationCounts:
    sentences: int  # cited sentences
    supported: int  # ... of which in the support set
    markers: int  # distinct [n] markers
    markers_supported: int  # ... of which cite at least one supporting sentence
    gold_cited: float | None  # share of the gold sentences cited; None without gold


def citation_counts(
    cited: Sequence[tuple[int, str]],
    support: Collection[str],
    gold: Collection[str],
    gold_alternatives: bool = False,
) -> CitationCounts:
    """`cited` holds (marker n, sentence id) pairs; a marker may name several sentences.
    The gold sentences are all needed (a two-sentence answer), or with `gold_alternatives`
    any one will do (SQuAD annotators' answers that lie in different sentences)."""
    sentence_ids = list(dict.fromkeys(sid for _, sid in cited))
    by_marker: dict[int, set[str]] = {}
    for n, sid in cited:
        by_marker.setdefault(n, set()).add(sid)
    gold_cited = None
    if gold:
        hits = len(set(gold) & set(sentence_ids))
        gold_cited = float(hits > 0) if gold_alternatives else hits / len(set(gold))
    return CitationCounts(
        sentences=len(sentence_ids),
        supported=sum(1 for sid in sentence_ids if sid in support),
        markers=len(by_marker),
        markers_supported=sum(1 for sids in by_marker.values() if sids & set(support)),
        gold_cited=gold_cited,
    )


# -- refusals ---------------------------------------------------------------------------------


def refusal_precision_recall(
    refused: Sequence[bool], impossible: Sequence[bool]
) -> tuple[float | None, float | None]:
    """Refusal as the positive class; None where the denominator is empty."""
    tp = sum(1 for r, i in zip(refused, impossible, strict=True) if r and i)
    n_refused, n_impossible = sum(refused), sum(impossible)
    return (
        tp / n_refused if n_refused else None,
        tp / n_impossible if n_impossible else None,
    )


# -- latency ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# -- one question, and a set of them ----------------------------------------------------------


@dataclass(frozen=True)
class QuestionScore:
    id: str
    type: str
    impossible: bool
    refused: bool
    exact_match: float
    f1: float
    rank: int | None  # first gold retrieval unit; None if not retrieved (or no gold)
    has_gold: bool  # answerable and its gold sentences were found in the corpus
    citations: CitationCounts
    latency_s: float
    error: str = ""
    contains_gold: bool = False  # a gold answer appears in the answer (answered answerable)
    low_confidence: bool = False  # answered with the low-confidence note
    extra: dict[str, object] = field(default_factory=dict, compare=False)


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def _right(s: QuestionScore) -> float:
    """An answer is right when the question is answerable and a gold sentence is cited."""
    return float(not s.impossible and s.has_gold and bool(s.citations.gold_cited))


def summarize(
    scores: Sequence[QuestionScore],
    ks: Sequence[int] = (1, 3, 5),
    z: float = Z_ONE_SIDED_95,
    with_bounds: bool = True,
) -> dict[str, object]:
    """All metrics of a question set (a metric without data is None); `with_bounds`, also
    "counts" ({metric: [successes, n]} of the counted shares), "bounds" ({metric: {lower,
    upper, method}}, each a one-sided bound at z) and "bounds_z"."""
    answerable = [s for s in scores if not s.impossible]
    unanswerable = [s for s in scores if s.impossible]
    ranks = [s.rank for s in answerable if s.has_gold]
    answered = [s for s in answerable if not s.refused]
    cited = sum(s.citations.sentences for s in answered)
    markers = sum(s.citations.markers for s in answered)
    refusal_p, refusal_r = refusal_precision_recall(
        [s.refused for s in scores], [s.impossible for s in scores]
    )
    latencies = [s.latency_s for s in scores if not s.error]
    out: dict[str, object] = {
        "questions": len(scores),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "refused": sum(s.refused for s in scores),
        "errors": sum(1 for s in scores if s.error),
        "gold_not_found": sum(1 for s in answerable if not s.has_gold),
    }
    for k in ks:
        out[f"retrieval_recall@{k}"] = recall_at_k(ranks, k)
    out["retrieval_mrr"] = mean_reciprocal_rank(ranks)
    out["exact_match"] = _mean(s.exact_match for s in scores)
    out["f1"] = _mean(s.f1 for s in scores)
    out["answerable_exact_match"] = _mean(s.exact_match for s in answerable)
    out["answerable_f1"] = _mean(s.f1 for s in answerable)
    out["unanswerable_accuracy"] = _mean(s.exact_match for s in unanswerable)
    out["answer_contains_gold"] = _mean(float(s.contains_gold) for s in answered)
    out["citation_precision"] = (
        sum(s.citations.supported for s in answered) / cited if cited else None
    )
    out["citation_precision_per_marker"] = (
        sum(s.citations.markers_supported for s in answered) / markers if markers else None
    )
    out["citation_recall"] = _mean(
        0.0 if s.refused else (s.citations.gold_cited or 0.0) for s in answerable if s.has_gold
    )
    out["answered_citing_gold"] = _mean(
        float(bool(s.citations.gold_cited)) for s in answered if s.has_gold
    )
    # the low-confidence note: how often it sits over answerable questions answered, and how
    # often an answer is right (answerable, a gold sentence cited) with it and without it
    out["low_confidence_rate"] = _mean(float(s.low_confidence) for s in answered if s.has_gold)
    for band, low in (("right_when_confident", False), ("right_when_low", True)):
        out[band] = _mean(_right(s) for s in scores if not s.refused and s.low_confidence == low)
    out["refusal_precision"] = refusal_p
    out["refusal_recall"] = refusal_r
    out["false_refusal_rate"] = _mean(float(s.refused) for s in answerable)
    out["latency_p50_s"] = percentile(latencies, 50)
    out["latency_p95_s"] = percentile(latencies, 95)
    if with_bounds:
        parts = [question_parts(s, ks) for s in scores]
        out["counts"], out["bounds"] = metric_bounds(parts, list(out), z, BOOTSTRAPPED)
        out["bounds_z"] = z
    return out


BY_TYPE_METRICS = (
    "questions",
    "retrieval_recall@3",
    "exact_match",
    "f1",
    "citation_recall",
    "refused",
)


def summarize_by_type(scores: Sequence[QuestionScore]) -> dict[str, dict[str, object]]:
    types = sorted({s.type for s in scores if s.type})
    out = {}
    for t in types:
        full = summarize([s for s in scores if s.type == t], with_bounds=False)
        out[t] = {k: full[k] for k in BY_TYPE_METRICS}
    return out


# -- what each question adds, for the bounds ---------------------------------------------------

# means of fractional per-question values, bounded by the bootstrap; the other metrics of
# question_parts count whole questions, sentences or markers, and get a Wilson interval
BOOTSTRAPPED = frozenset({"retrieval_mrr", "f1", "answerable_f1", "citation_recall"})
NOT_METRICS = frozenset({"counts", "bounds", "bounds_z"})  # summarize's keys that are no metric


def question_parts(s: QuestionScore, ks: Sequence[int] = (1, 3, 5)) -> dict[str, Part]:
    """What one question adds to each metric of `summarize` it takes part in."""
    parts: dict[str, Part] = {"exact_match": (s.exact_match, 1.0), "f1": (s.f1, 1.0)}
    if not s.refused:
        band = "right_when_low" if s.low_confidence else "right_when_confident"
        parts[band] = (_right(s), 1.0)
    if s.refused:
        parts["refusal_precision"] = (float(s.impossible), 1.0)
    if s.impossible:
        parts["unanswerable_accuracy"] = (s.exact_match, 1.0)
        parts["refusal_recall"] = (float(s.refused), 1.0)
        return parts
    parts["answerable_exact_match"] = (s.exact_match, 1.0)
    parts["answerable_f1"] = (s.f1, 1.0)
    parts["false_refusal_rate"] = (float(s.refused), 1.0)
    if s.has_gold:
        for k in ks:
            parts[f"retrieval_recall@{k}"] = (float(s.rank is not None and s.rank <= k), 1.0)
        parts["retrieval_mrr"] = (1.0 / s.rank if s.rank else 0.0, 1.0)
        parts["citation_recall"] = (0.0 if s.refused else (s.citations.gold_cited or 0.0), 1.0)
    if s.refused:
        return parts
    parts["answer_contains_gold"] = (float(s.contains_gold), 1.0)
    if s.has_gold:
        parts["answered_citing_gold"] = (float(bool(s.citations.gold_cited)), 1.0)
        parts["low_confidence_rate"] = (float(s.low_confidence), 1.0)
    c = s.citations
    if c.sentences:
        parts["citation_precision"] = (float(c.supported), float(c.sentences))
    if c.markers:
        parts["citation_precision_per_marker"] = (float(c.markers_supported), float(c.markers))
    return parts

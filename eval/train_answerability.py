"""Fits the answerability model (rag/search/answerability.py) on calibration questions only.

  python eval/train_answerability.py [--reader model|off] [--out FILE]
                                     [--data ../shared/eval-data/squad2-dev-open15]

With the reader (the default) it fits on the calibration questions of the articles the reader
was not trained on (rag/models/reader/reader.json names them), with the reader's scores of the
top two sentences among the features, and puts `refuse_at` where REFUSE_RATE of those
answerable questions score above it (at run time a refusal still needs a visible reason, so
fewer are refused). With `--reader off` it fits on every calibration question, without them
(rag/search/answerability-evidence.json), as before the reader:

For every question of `calibration.jsonl` (never `questions.jsonl`, which we report on) it
retrieves the evidence our engine would answer from (the docs beside it, indexed in the usual
cache), computes the features of rag.search.answerability.features, and fits a logistic
regression (standardised features, L2, full-batch gradient descent: deterministic). The two cut
points are quantiles of the out-of-fold P(unanswerable) of the answerable calibration
questions. At run time a question from `refuse_at` on is refused when the evidence visibly
lacks something it asks (rag.search.answerability.lacking), else answered with a low-confidence
note, as from `low_at`: `refuse_at` is the lowest at which REFUSE_RATE of the answerable ones
are refused so, `low_at` the one LOW_RATE of them reach.
It writes the model with what made it (data digest, counts, 5-fold AUC, the rates at the cut
points) as JSON; eval reports record its sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

import rag  # noqa: F401  (offline switches before torch loads)
from rag.engine import Engine
from rag.eval.questions import load_questions
from rag.models.reader import FOLDER
from rag.models.weights import ANSWERABILITY_FILES
from rag.search.answerability import features, lacking, refusal_reason
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# answerable calibration questions noted or refused / refused, without and with the reader
RATES = {"off": (0.25, 0.12), "model": (0.12, 0.08)}
L2, STEPS, RATE, FOLDS = 1.0, 3000, 0.5, 5
RARE_SHARE = 0.02  # a refusal's reason: a missing question word in at most 2% of passages


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logistic regression weights (last: the bias) by full-batch gradient descent."""
    xb = np.c_[x, np.ones(len(x))]
    w = np.zeros(xb.shape[1])
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-xb @ w))
        w -= RATE * (xb.T @ (p - y) + L2 * np.r_[w[:-1], 0.0]) / len(y)
    return w


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.c_[x, np.ones(len(x))] @ w)))


def auc(p: np.ndarray, y: np.ndarray) -> float:
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    pos, neg = y.sum(), len(y) - y.sum()
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def reader_only_auc(x: np.ndarray, y: np.ndarray, names: list[str], folds: list) -> float:
    """The out-of-fold AUC of a model over the reader's two scores alone (for comparison)."""
    z = x[:, [names.index("reader_1"), names.index("reader_2")]]
    z = (z - z.mean(0)) / (z.std(0) + 1e-9)
    p = np.zeros(len(y))
    for fold in folds:
        train = np.setdiff1d(np.arange(len(y)), fold)
        p[fold] = predict(fit(z[train], y[train]), z[fold])
    return auc(p, y)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared/eval-data/squad2-dev-open15"))
    parser.add_argument("--reader", choices=("model", "off"), default="model")
    parser.add_argument("--out", help="default: the packaged file for --reader")
    parser.add_argument(
        "--features", help="a .json file keeping the computed features, reused when it exists"
    )
    args = parser.parse_args()
    data = Path(args.data)
    calibration = data / "calibration.jsonl"
    with_reader = args.reader == "model"
    low_rate, refuse_rate = RATES[args.reader]
    out = Path(args.out or ROOT / "rag/search" / ANSWERABILITY_FILES[args.reader])
    # the rules, not the packaged model this script makes, decide nothing here: evidence only
    settings = Settings.load(
        docs_dir=data / "docs", answerer="extractive", answerability="rules", reader=args.reader
    )
    held_out = set()
    if with_reader:
        trained = json.loads((FOLDER / "reader.json").read_text(encoding="utf-8"))["trained_on"]
        held_out = {d for t in trained for d in t.get("held_out_calibration_docs", [])}
    engine = Engine(settings)
    engine.ingest()
    terms = engine.store.keyword_index()
    min_score = settings.retrieval.min_evidence_score

    cache = Path(args.features) if args.features else None
    if cache and cache.exists():
        rows, labels, reasons = json.loads(cache.read_text(encoding="utf-8"))
    else:
        rows, labels, reasons = [], [], []
        started = time.perf_counter()
        questions = load_questions(calibration)
        if with_reader:  # the reader saw the others' questions in training
            questions = [q for q in questions if q.doc_id in held_out]
        for i, q in enumerate(questions):
            evidence = engine.evidence(q.question)
            rows.append(features(q.question, evidence, terms, min_score))
            labels.append(float(q.impossible))
            reason = refusal_reason(q.question, evidence, min_score) or lacking(
                q.question, evidence, terms, RARE_SHARE
            )
            reasons.append(bool(reason))
            if i % 500 == 0:
                print(
                    f"{i}/{len(questions)} {time.perf_counter() - started:.0f} s", file=sys.stderr
                )
        if cache:
            cache.write_text(json.dumps([rows, labels, reasons]), encoding="utf-8")
    names = list(rows[0])
    x = np.array([[r[n] for n in names] for r in rows])
    y = np.array(labels)
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale

    out_of_fold = np.zeros(len(y))
    folds = np.array_split(np.random.default_rng(0).permutation(len(y)), FOLDS)
    for fold in folds:
        train = np.setdiff1d(np.arange(len(y)), fold)
        out_of_fold[fold] = predict(fit(z[train], y[train]), z[fold])
    answerable = out_of_fold[y == 0]
    low_at = float(np.quantile(answerable, 1 - low_rate))
    # with the reader the cut point is where REFUSE_RATE of the answerable ones score above it;
    # at run time a refusal still needs a visible reason (fewer are refused)
    has_reason = np.array(reasons, dtype=bool) | with_reader
    # the lowest cut point at which at most REFUSE_RATE of the answerable ones are refused
    refuse_at = next(
        float(at)
        for at in np.sort(answerable)
        if ((out_of_fold >= at) & has_reason)[y == 0].mean() <= refuse_rate
    )
    w = fit(z, y)
    model = {
        "features": names,
        "mean": mean.round(6).tolist(),
        "scale": scale.round(6).tolist(),
        "weights": w[:-1].round(6).tolist(),
        "bias": round(float(w[-1]), 6),
        "low_at": round(low_at, 4),
        "refuse_at": round(refuse_at, 4),
        "rare_share": RARE_SHARE,
    }
    refused = (out_of_fold >= refuse_at) & has_reason
    noted = out_of_fold >= low_at
    fitted_on = {
        "file": f"{data.name}/{calibration.name}",
        "sha256": hashlib.sha256(calibration.read_bytes()).hexdigest(),
        "questions": len(y),
        "unanswerable": int(y.sum()),
        "evidence_k": settings.retrieval.evidence_k,
        "cv_auc": round(auc(out_of_fold, y), 4),
        "cv_refusal_recall": round(float(refused[y == 1].mean()), 4),
        "cv_false_refusal_rate": round(float(refused[y == 0].mean()), 4),
        "cv_low_confidence_rate": round(float((noted & ~refused)[y == 0].mean()), 4),
        "rates": {"low": low_rate, "refuse": refuse_rate},
    }
    if with_reader:
        fitted_on["articles"] = sorted(held_out)
        fitted_on["reader_sha256"] = hashlib.sha256(
            (FOLDER / "reader.onnx").read_bytes()
        ).hexdigest()
        fitted_on["cv_auc_reader_only"] = round(reader_only_auc(x, y, names, folds), 4)
    out.write_text(
        json.dumps({"model": model, "fitted_on": fitted_on}, indent=1) + "\n", encoding="utf-8"
    )
    print(json.dumps(fitted_on, indent=1))
    for name, weight in sorted(zip(names, model["weights"], strict=True), key=lambda t: -abs(t[1])):
        print(f"{name:28} {weight:+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

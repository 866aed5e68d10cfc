"""Fits how the reader's reading and the first-pass evidence score combine to order evidence,
and shows what each depth of the pool buys, on held-out calibration questions only.

  python eval/fit_reranker.py [--data ../shared/eval-data/squad2-dev-open15] [--depth 30]

For each calibration question of the articles the reader was not trained on (reader.json names
them), the first-pass pool (every sentence of the retrieved chunks, by the evidence score, as
with RAG_READER=off) and the reader's P for its first `--depth` sentences. It prints, for the
answerable questions, the share whose gold sentence is in the first d (what the reader can fix
at most) and recall@1 when the first d are ordered by logit(P) + w * score, for a grid of w
(w = 0: the reader alone; "first pass": the evidence score alone). The setting
RAG_READER_EVIDENCE_WEIGHT takes the best w; RAG_READER_DEPTH the smallest depth that loses
nothing at it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import rag  # noqa: F401  (offline switches before torch loads)
from rag.engine import Engine
from rag.eval.gold import gold_for
from rag.eval.questions import load_questions
from rag.models.reader import FOLDER, Reader, reader_texts
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = (0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0)
DEPTHS = (2, 4, 6, 8, 10, 12, 16, 20, 30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared/eval-data/squad2-dev-open15"))
    parser.add_argument("--depth", type=int, default=30)
    args = parser.parse_args()
    data = Path(args.data)
    trained = json.loads((FOLDER / "reader.json").read_text(encoding="utf-8"))["trained_on"]
    held_out = {d for t in trained for d in t.get("held_out_calibration_docs", [])}
    settings = Settings.load(docs_dir=data / "docs", answerer="extractive", reader="off")
    engine = Engine(settings)
    engine.ingest()
    corpus = engine.store.corpus
    reader = Reader()
    pools = []  # (gold flags, first-pass scores, reader logits) of answerable questions
    for q in load_questions(data / "calibration.jsonl"):
        if q.doc_id not in held_out or q.impossible:
            continue
        gold = gold_for(q, corpus).sentence_ids
        pool = engine.evidence(q.question, depth=args.depth)
        p = np.clip(reader.scores(q.question, reader_texts(corpus.sentences, pool)), 1e-4, 1 - 1e-4)
        flags = np.array([e.sentence.id in gold for e in pool])
        pools.append((flags, np.array([e.score for e in pool]), np.log(p / (1 - p))))
    print(f"{len(pools)} answerable calibration questions of {sorted(held_out)}")
    print("depth  pool   first pass  " + "  ".join(f"w={w:<4g}" for w in WEIGHTS))
    for d in (d for d in DEPTHS if d <= args.depth):
        pool_recall = np.mean([flags[:d].any() for flags, _, _ in pools])
        first = np.mean([flags[0] for flags, _, _ in pools if len(flags)])
        cells = []
        for w in WEIGHTS:
            hits = [f[:d][np.argmax(r[:d] + w * s[:d])] for f, s, r in pools if len(f)]
            cells.append(f"{np.mean(hits):6.3f}")
        print(f"{d:5d}  {pool_recall:.3f}  {first:10.3f}  " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What the reader costs and what it buys (issue 13): the pool's recall by depth, recall@1 after
the reader reranks that pool, and the extractive answer's latency with the reader and without,
measured side by side in one process (alternating question by question).

  python bench/bench_reader.py [--data ../shared/eval-data/squad2-dev-open15] [--questions 150]
                               [--depths 4,8,12,16,20,30]

The pool is the first-pass evidence (every sentence of the retrieved chunks, ranked by the
evidence score), for the answerable questions of the folder's questions.jsonl. For each depth
d: the share whose gold sentence is among the first d (what the reader can fix at most), the
share whose best sentence after the reader reads the first d is gold (recall@1), and the
reader's time for d sentences (p50). Then the whole extractive answer, reader on and off, on
all the sampled questions. Target (2-core CPU): the reader adds at most 60 ms p50.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402,F401  (offline switches before torch loads)
from rag.engine import Engine  # noqa: E402
from rag.eval.gold import gold_for  # noqa: E402
from rag.eval.questions import load_questions  # noqa: E402
from rag.models.reader import Reader, reader_texts  # noqa: E402
from rag.search.evidence import rerank  # noqa: E402
from rag.settings import Settings  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from bench_core import percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared/eval-data/squad2-dev-open15"))
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--depths", default="4,8,12,16,20,30")
    args = parser.parse_args()
    data = Path(args.data)
    depths = [int(d) for d in args.depths.split(",")]
    settings = Settings.load(docs_dir=data / "docs", answerer="extractive", reader="model")
    engine = Engine(settings)
    engine.ingest()
    plain = Engine(settings.replace(reader="off"), embedder=engine.embedder)
    reader = Reader()
    corpus = engine.store.corpus
    questions = load_questions(data / "questions.jsonl")
    questions = random.Random(0).sample(questions, min(args.questions, len(questions)))

    first_hits = 0
    pool_hits = {d: 0 for d in depths}
    top_hits = {d: 0 for d in depths}
    read_ms: dict[int, list[float]] = {d: [] for d in depths}
    answerable = 0
    for q in questions:
        gold = gold_for(q, corpus).sentence_ids
        if q.impossible or not gold:
            continue
        answerable += 1
        pool = plain.evidence(q.question, depth=max(depths))
        first_hits += bool(pool) and pool[0].sentence.id in gold
        for d in depths:
            head = pool[:d]
            texts = reader_texts(corpus.sentences, head)
            t0 = time.perf_counter()
            scores = reader.scores(q.question, texts)
            read_ms[d].append((time.perf_counter() - t0) * 1000)
            pool_hits[d] += any(e.sentence.id in gold for e in head)
            ranked = rerank(pool, scores, settings.retrieval.reader_evidence_weight)
            top_hits[d] += ranked[0].sentence.id in gold
    print(
        f"pool and reader over {data.name} ({answerable} answerable questions of {len(questions)})"
    )
    print(f"  recall@1 of the first pass alone: {first_hits / answerable:.3f}")
    print("  depth  pool recall  recall@1 after reader  reader p50 ms  p95 ms")
    for d in depths:
        print(
            f"  {d:5d}  {pool_hits[d] / answerable:11.3f}  {top_hits[d] / answerable:21.3f}  "
            f"{statistics.median(read_ms[d]):13.1f}  {percentile(read_ms[d], 95):6.1f}"
        )

    on_ms, off_ms = [], []
    for q in questions[:10]:  # warm-up: caches, first-call overheads
        engine.answer(q.question)
        plain.answer(q.question)
    for q in questions:
        for which, times in ((engine, on_ms), (plain, off_ms)):
            t0 = time.perf_counter()
            which.answer(q.question)
            times.append((time.perf_counter() - t0) * 1000)
    on, off = statistics.median(on_ms), statistics.median(off_ms)
    print(
        f"extractive answer end to end, {len(questions)} questions, reader depth "
        f"{settings.retrieval.reader_depth}, alternating"
    )
    print(f"  reader off  p50 {off:.1f} ms  p95 {percentile(off_ms, 95):.1f} ms")
    print(f"  reader on   p50 {on:.1f} ms  p95 {percentile(on_ms, 95):.1f} ms")
    print(f"  added p50 {on - off:.1f} ms (ratio {on / off:.2f})   target: at most 60 ms")


if __name__ == "__main__":
    main()

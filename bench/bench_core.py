"""Benchmarks of the RAG core (issue 2), printed as medians, percentiles and ratios.

  python bench/bench_core.py [--docs DIR] [--squad DIR] [--rounds N]

1. Warm `ask` latency over seeds/ (index built, embedding model loaded, extractive writer):
   p50 and p95 over the eval questions. Target: p50 under 50 ms.
2. Ingest throughput over the SQuAD docs: a full ingest into a fresh index, against the raw
   `SentenceTransformer.encode` (torch) of the very texts the design embeds at ingest (the
   chunks; sentences are embedded when a question first needs them), and against a raw encode
   by the backend ingest uses (RAG_EMBED_BACKEND, onnx by default), measured in the same
   process, alternating, several rounds. Target: ratio (ingest / raw throughput) >= 0.8.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import rag  # noqa: F401  (sets OMP_WAIT_POLICY and the offline switches before torch loads)
from rag.engine import Engine
from rag.ingest.corpus import segment
from rag.ingest.documents import read_documents
from rag.ingest.store import Store
from rag.models.embedder import make_embedder
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bench_ask(docs: Path, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(docs_dir=docs, cache_dir=Path(tmp), answerer="extractive")
        engine = Engine(settings)
        engine.ingest()
        getattr(engine.embedder, "load", lambda: None)()  # as the app's warm-up does
        lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in lines]
        for q in questions[:5]:  # warm-up: caches, first-call overheads
            engine.answer(q)
        times = []
        for _ in range(rounds):
            for q in questions:
                t0 = time.perf_counter()
                engine.answer(q)
                times.append((time.perf_counter() - t0) * 1000)
    print(f"warm ask over {docs.name}/ ({len(questions)} questions x {rounds} rounds)")
    print(
        f"  p50 {statistics.median(times):.1f} ms   p95 {percentile(times, 95):.1f} ms   "
        f"max {max(times):.1f} ms   target p50 < 50 ms"
    )


def bench_ingest(docs: Path, rounds: int) -> None:
    base = Settings.load(docs_dir=docs, answerer="extractive")
    embedder = make_embedder(base.index)
    # the issue's baseline: sentence-transformers' own encode on torch, whatever ingest uses
    reference = make_embedder(base.index.model_copy(update={"embed_backend": "torch"}))
    documents, _ = read_documents(docs)
    cut = base.index
    entries = [segment(d, cut.chunk_max_chars, cut.chunk_overlap_sentences) for d in documents]
    texts = [c.text for e in entries for c in e.chunks]
    chars = sum(len(d.text) for d in documents)
    for warm in (embedder, reference):  # load and warm both models outside the timings
        warm.embed(texts[:64])
    ingest_s, raw_s, torch_s = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        reference.embed(texts)  # SentenceTransformer.encode, the same texts, one call
        torch_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        embedder.embed(texts)  # the backend ingest uses, the same texts, one call
        raw_s.append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory() as tmp:
            settings = base.replace(cache_dir=Path(tmp))
            t0 = time.perf_counter()
            report = Store(settings.index, embedder).sync()
            ingest_s.append(time.perf_counter() - t0)
            assert report.embedded == len(texts), (report.embedded, len(texts))
    ingest, raw, st = (statistics.median(s) for s in (ingest_s, raw_s, torch_s))
    print(
        f"ingest of {docs.name}/: {len(documents)} docs, {chars:,} chars, {len(texts):,} texts "
        f"embedded ({rounds} rounds, medians)"
    )
    print(
        f"  full ingest ({base.index.embed_backend}) {ingest:.1f} s ({len(texts) / ingest:.0f} "
        f"texts/s, {chars / ingest:,.0f} chars/s)"
    )
    print(f"  raw encode, {base.index.embed_backend}  {raw:.1f} s ({len(texts) / raw:.0f} texts/s)")
    print(f"  raw SentenceTransformer.encode (torch)  {st:.1f} s ({len(texts) / st:.0f} texts/s)")
    print(f"  ratio ingest / SentenceTransformer.encode {st / ingest:.2f}   target >= 0.8")
    print(f"  ratio ingest / raw encode of its own backend {raw / ingest:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "seeds")
    parser.add_argument(
        "--squad",
        type=Path,
        default=ROOT.parent / "shared" / "eval-data" / "squad2-dev-open15" / "docs",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["ask", "ingest"])
    args = parser.parse_args()
    if args.only != "ingest":
        bench_ask(args.docs, args.rounds)
    if args.only != "ask":
        bench_ingest(args.squad, args.rounds)


if __name__ == "__main__":
    main()

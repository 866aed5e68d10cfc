"""Benchmarks of the index at scale and of the document formats (issue 11), printed as medians,
percentiles and peaks.

  python bench/bench_scale.py [scale] [book] [pdf] [--files N] [--keep DIR]

scale  A corpus of 10,000 generated files (sentences of the shared SQuAD docs, drawn at random,
       about 100,000 chunks). Retrieval p50/p95 (hybrid chunks, and chunks + evidence
       sentences), peak RSS of a process that opens the index and answers questions, re-sync of
       the unchanged folder, removal of one document. Targets: p50 <= 50 ms, p95 <= 150 ms,
       RSS <= 3 GB, re-sync <= 10 s, removal <= 1 s.
       Embedding 100,000 chunks with MiniLM takes about an hour on a 2-core machine, so the
       corpus's vectors are the normalised mean of its sentences' real MiniLM vectors (each of
       the ~2,800 distinct sentences embedded once); questions are embedded by the real model.
       The store, the keyword index and retrieval do exactly what they do for real vectors.
book   One 3.4 MB text file of 60,000 short sentences (a 600-page book), ingested with the
       real model into a fresh index. Target: <= 5 minutes.
pdf    A generated 100-page PDF, ingested; every sentence's page checked against the page it
       was written on.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import rag  # noqa: F401  (sets OMP_WAIT_POLICY and the offline switches before torch loads)
from rag.ingest.sentences import split_sentences
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT.parent / "shared" / "eval-data" / "squad2-dev-open15"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def squad_sentences() -> list[str]:
    out: list[str] = []
    for path in sorted((SQUAD / "docs").glob("*.txt")):
        out += [s.text for s in split_sentences(path.name, path.read_text(encoding="utf-8"))]
    return out


class SentenceMeanEmbedder:
    """Real MiniLM vectors for the pool's sentences (each embedded once) and questions; a text
    made of pool sentences gets the normalised mean of theirs (see the module's docstring)."""

    name = "bench-sentence-mean-minilm"

    def __init__(self, real: object, pool: Sequence[str], cache: Path):
        self.real = real
        if cache.exists():
            vectors = np.load(cache)
        else:
            vectors = real.embed(list(pool))  # type: ignore[attr-defined]
            np.save(cache, vectors)
        self.vectors = {s: v for s, v in zip(pool, vectors, strict=True)}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        unknown = []
        for i, text in enumerate(texts):
            parts = [self.vectors.get(s.text) for s in split_sentences("t", text)]
            if parts and all(p is not None for p in parts):
                v = np.mean(parts, axis=0)
                out.append(v / np.linalg.norm(v))
            else:
                out.append(None)
                unknown.append(i)
        if unknown:
            real = self.real.embed([texts[i] for i in unknown])  # type: ignore[attr-defined]
            for i, v in zip(unknown, real, strict=True):
                out[i] = v
        return np.asarray(out, dtype=np.float32)


def make_corpus(folder: Path, files: int, pool: Sequence[str], seed: int = 7) -> None:
    rng = random.Random(seed)
    for i in range(files):
        sub = folder / f"part{i // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        paragraphs = [" ".join(rng.sample(pool, 4)) for _ in range(6)]
        (sub / f"doc{i:05d}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")


def questions() -> list[str]:
    lines = (SQUAD / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines][:200]


def bench_scale(files: int, keep: Path | None) -> None:
    from rag.engine import Engine
    from rag.models.embedder import make_embedder

    pool = squad_sentences()
    work = keep or Path(tempfile.mkdtemp(prefix="rag-scale-"))
    docs = work / "docs"
    if not docs.exists():
        make_corpus(docs, files, pool)
    settings = _settings(work)
    real = make_embedder(settings.index)
    embedder = SentenceMeanEmbedder(real, pool, work / "pool-vectors.npy")
    engine = Engine(settings, embedder=embedder)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    report = engine.ingest()
    print(f"corpus: {files:,} files in {docs}")
    print(f"  first sync {time.perf_counter() - t0:.0f} s: {report.summary()}")

    # re-sync of the unchanged folder, from a new process (nothing in memory)
    resync = [float(_child("resync", work)) for _ in range(3)]
    print(
        f"  re-sync of the unchanged folder (new process, 3 runs): median "
        f"{statistics.median(resync):.2f} s, max {max(resync):.2f} s   target <= 10 s"
    )

    qs = questions()
    for q in qs[:5]:
        engine.evidence(q)
    embed, hybrid, full = [], [], []
    for q in qs:
        bundle = engine.ask(q)
        t0 = time.perf_counter()
        bundle.embedding = engine.store.embedder.embed([q])[0].tolist()
        embed.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        engine.query_engine.retriever.retrieve(bundle)
        hybrid.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        engine.query_engine.retrieve(bundle)
        full.append((time.perf_counter() - t0) * 1000 + embed[-1])
    chunks = len(engine.store.corpus.chunks)
    print(f"retrieval over {chunks:,} chunks, {len(qs)} SQuAD questions")
    for name, times in (
        ("embedding the question", embed),
        ("hybrid chunks (dense + keyword + fusion)", hybrid),
        ("question to evidence sentences, all in", full),
    ):
        print(
            f"  {name:41s} p50 {statistics.median(times):5.1f} ms   "
            f"p95 {percentile(times, 95):5.1f} ms   target p50 <= 50, p95 <= 150"
        )

    removal = []
    for victim in sorted(docs.rglob("*.txt"))[len(qs) : len(qs) + 5]:
        victim.unlink()
        t0 = time.perf_counter()
        removed = engine.ingest()
        removal.append(time.perf_counter() - t0)
        assert removed.removed, removed.summary()
    print(
        f"removing one document (5 in turn): median {statistics.median(removal):.2f} s, "
        f"max {max(removal):.2f} s   target <= 1 s"
    )

    rss = float(_child("rss", work))
    print(
        f"peak RSS of a process that opens the index and answers 50 questions (extractive): "
        f"{rss:,.0f} MB   target <= 3,072 MB"
    )
    if keep is None:
        print(f"(corpus left in {work}; pass --keep {work} to reuse it)")


def _child(part: str, work: Path) -> str:
    """Run a part in a new process (nothing in memory); its last line of output."""
    done = subprocess.run(
        [sys.executable, __file__, part, "--keep", str(work)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _settings(work: Path) -> Settings:
    return Settings.load(docs_dir=work / "docs", cache_dir=work / "cache", answerer="extractive")


def resync_once(work: Path) -> None:
    """Sync the unchanged corpus; prints the seconds (imports excluded)."""
    from rag.ingest.store import Store

    class Named:  # the bench embedder's name: nothing is embedded
        name = SentenceMeanEmbedder.name

    t0 = time.perf_counter()
    report = Store(_settings(work).index, Named()).sync()  # type: ignore[arg-type]
    assert report.embedded == 0 and report.unchanged, report.summary()
    print(f"{time.perf_counter() - t0:.3f}")


def rss_once(work: Path) -> None:
    """Open the index and answer 50 questions; prints the peak RSS in MB."""
    from rag.engine import Engine
    from rag.models.embedder import make_embedder

    settings = _settings(work)
    pool = squad_sentences()
    embedder = SentenceMeanEmbedder(make_embedder(settings.index), pool, work / "pool-vectors.npy")
    engine = Engine(settings, embedder=embedder)  # type: ignore[arg-type]
    engine.store.open()
    assert engine.store.corpus.chunks
    for q in questions()[:50]:
        engine.answer(q)
    print(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


def bench_book(keep: Path | None) -> None:
    from rag.ingest.store import Store
    from rag.models.embedder import make_embedder

    rng = random.Random(11)
    words = [w for s in squad_sentences() for w in s.split() if w.isalpha()]
    sentences = []
    while sum(len(s) + 1 for s in sentences) < 3_400_000:
        n = rng.randint(7, 11)
        sentences.append(" ".join(rng.choice(words) for _ in range(n)).capitalize() + ".")
    work = keep or Path(tempfile.mkdtemp(prefix="rag-book-"))
    docs = work / "book"
    docs.mkdir(parents=True, exist_ok=True)
    text = ""
    for i in range(0, len(sentences), 12):  # paragraphs of 12 sentences
        text += " ".join(sentences[i : i + 12]) + "\n\n"
    (docs / "book.txt").write_text(text, encoding="utf-8")
    settings = Settings.load(docs_dir=docs, cache_dir=work / "cache-book")
    embedder = make_embedder(settings.index)
    embedder.embed(["warm up"])
    t0 = time.perf_counter()
    report = Store(settings.index, embedder).sync()
    took = time.perf_counter() - t0
    print(
        f"book: {len(text.encode()) / 1e6:.1f} MB, {len(sentences):,} sentences: "
        f"{took / 60:.1f} min ({report.chunks:,} chunks embedded)   target <= 5 min"
    )


def bench_pdf() -> None:
    from rag.ingest.store import Store
    from rag.models.embedder import make_embedder

    sys.path.insert(0, str(ROOT))  # tests/files.py makes the PDF
    from tests.files import make_pdf

    pool = [s for s in squad_sentences() if s.isascii()]  # the PDF's core font is Latin-1
    rng = random.Random(5)
    # five sentences fit a page (the writer never breaks a page on its own); none is used twice
    drawn = rng.sample(pool, 500)
    pages = [[f"Page {p} begins here.", *drawn[5 * p - 5 : 5 * p]] for p in range(1, 101)]
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        make_pdf(docs / "report.pdf", pages)
        settings = Settings.load(docs_dir=docs, cache_dir=Path(tmp) / "cache")
        store = Store(settings.index, make_embedder(settings.index))
        t0 = time.perf_counter()
        report = store.sync()
        took = time.perf_counter() - t0
        where = {}
        for p, paragraphs in enumerate(pages, start=1):
            for text in paragraphs:
                where.setdefault(text, p)
        checked = wrong = 0
        for s in store.corpus.sentences.values():
            if s.text in where:
                checked += 1
                wrong += s.page != where[s.text]
        size = (docs / "report.pdf").stat().st_size / 1e6
        import pypdfium2

        assert len(pypdfium2.PdfDocument(docs / "report.pdf")) == 100
    print(
        f"pdf: 100 pages ({size:.1f} MB) ingested in {took:.1f} s ({report.chunks} chunks); "
        f"{checked} sentences found whole, {wrong} on a wrong page"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["scale", "book", "pdf"])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="a work folder to make or reuse")
    args = parser.parse_args()
    if "resync" in args.parts or "rss" in args.parts:
        assert args.keep is not None
        (resync_once if "resync" in args.parts else rss_once)(args.keep)
        return
    if "pdf" in args.parts:
        bench_pdf()
    if "scale" in args.parts:
        bench_scale(args.files, args.keep)
    if "book" in args.parts:
        bench_book(args.keep)


if __name__ == "__main__":
    main()

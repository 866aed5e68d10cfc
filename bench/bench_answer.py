"""End-to-end latency of the LLM answer writer (issues 3 and 10).

  python bench/bench_answer.py [--questions N]                    # over seeds/
  python bench/bench_answer.py --data ../shared/eval-data/squad2-dev-open15 --questions 20

Builds the engine with the LLM writer (over seeds/ in a fresh index, or over the docs/ of a
SQuAD-style folder in the usual cache), loads the model and warms the shared prompt prefix up
(as the chat does at start), then streams answers to the first N answerable questions (of
eval/questions.jsonl, or of the folder's questions.jsonl) and prints time to first token
(first streamed piece) and full-answer time, p50 and p95, the prompt sizes, and the process's
peak RSS. Targets on a 2-core CPU: over seeds/ (the whole article is a cached prompt prefix)
TTFT p50 <= 1.5 s and answer p50 <= 5 s; over the SQuAD corpus (retrieved evidence only)
TTFT p50 <= 2 s and answer p50 <= 6 s; peak memory <= 2.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402,F401  (OMP_WAIT_POLICY and offline switches before torch/llama.cpp)
from rag.answer.llm_writer import LLMWriter  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.types import Answer  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from bench_core import percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--data", help="a SQuAD-style folder (questions.jsonl and docs/)")
    args = parser.parse_args()
    data = Path(args.data) if args.data else None
    path = data / "questions.jsonl" if data else ROOT / "eval" / "questions.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    questions = [r["question"] for r in rows if not r["is_impossible"] and not r.get("history")]
    questions = questions[: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        where = (
            {"docs_dir": data / "docs"}
            if data
            else {"docs_dir": ROOT / "seeds", "index_dir": Path(tmp)}
        )
        settings = Settings.load(**where, answerer="llm")
        engine = Engine(settings)
        engine.ingest()
        writer = engine.writers.get("llm")
        assert isinstance(writer, LLMWriter)
        t0 = time.perf_counter()
        _ = writer.llm  # load + warm up the shared prefix
        load_s = time.perf_counter() - t0
        ttft, total, prompt_chars, fallbacks = [], [], [], 0
        for q in questions:
            t0 = time.perf_counter()
            first = None
            answer = None
            for piece in engine.stream(q):
                if first is None:
                    first = time.perf_counter() - t0
                if isinstance(piece, Answer):
                    answer = piece
            total.append(time.perf_counter() - t0)
            assert answer is not None
            if answer.refused and answer.decision.by == "evidence":
                continue  # refused before the model ran: not an LLM latency
            ttft.append(first or total[-1])
            prompt_chars.append(len(writer.prompt(q, writer.context(answer.evidence))))
            fallbacks += answer.note.startswith("extractive fallback")
            print(f"  {ttft[-1]:5.2f} s {total[-1]:5.2f} s  {answer.text[:90]!r}", file=sys.stderr)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print(
        f"LLM answers over {settings.index.docs_dir.name}/: {len(ttft)} questions, "
        f"model load + warm-up {load_s:.1f} s, "
        f"{os.cpu_count()} cores"
    )
    print(
        f"  time to first token  p50 {statistics.median(ttft):.2f} s  "
        f"p95 {percentile(ttft, 95):.2f} s   target p50 <= {2 if data else 1.5} s"
    )
    print(
        f"  full answer          p50 {statistics.median(total):.2f} s  "
        f"p95 {percentile(total, 95):.2f} s   target p50 <= {6 if data else 5} s"
    )
    mode = "whole corpus, cached" if writer.context([]) else "retrieved evidence"
    print(
        f"  prompt (user part)   p50 {statistics.median(prompt_chars):.0f} chars ({mode}); "
        f"extractive fallbacks {fallbacks}"
    )
    print(f"  peak RSS {rss_gb:.2f} GB   target <= 2.5 GB")


if __name__ == "__main__":
    main()

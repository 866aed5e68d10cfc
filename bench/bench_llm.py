"""Local LLM latency: time to first token, full-answer time and peak memory, on real prompts.

    python bench/bench_llm.py                 # the defaults the app uses
    python bench/bench_llm.py --threads 1 --flash-attn --max-tokens 60

Loads the packaged GGUF once, warms the fixed system prompt up, then answers 8 evidence +
question prompts twice each: once with the shared system prompt (llama.cpp re-uses the cached
prefix) and once with a system prompt changed at its first token (nothing cached), and prints
medians, p95s and the cached/uncached ratio. Targets: TTFT p50 <= 1.5 s, answer p50 <= 5 s,
peak RSS <= 2.5 GB on a 2-core CPU.
"""

from __future__ import annotations

import os

# Before llama_cpp (and its OpenMP runtime) is imported: spinning OpenMP threads slow a busy
# 2-core machine down several times.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import platform
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.models.llm import LlamaCppLLM
from rag.settings import Settings

SYSTEM = (
    "You are a careful assistant that answers questions about news articles. Use only the "
    "numbered evidence sentences in the user's message. Answer in one or two short sentences. "
    "After each claim, cite the evidence sentence that supports it as [n], for example [2]. "
    "Do not use outside knowledge, do not guess, and do not repeat the question. If the "
    "evidence does not answer the question, reply exactly: I don't know."
)

CASES: list[tuple[list[str], str]] = [
    (
        [
            "The city council approved a new protected bike lane on Main Street on Tuesday.",
            "Construction is scheduled to begin in May and will cost $2.1 million.",
            "Several shop owners said they feared losing customer parking.",
            "The mayor said the lane should be finished by October.",
        ],
        "When will construction of the bike lane begin?",
    ),
    (
        [
            "A winter storm knocked out power to about 40,000 homes in Lake County overnight.",
            "Utility crews restored electricity to most customers by noon on Friday.",
            "Two elementary schools stayed closed for the day.",
            "The utility said falling trees caused most of the outages.",
        ],
        "What caused most of the power outages?",
    ),
    (
        [
            "The Riverside Art Museum reopened on Saturday after a two-year renovation.",
            "Its new east wing displays 300 paintings from the permanent collection.",
            "Adult tickets cost $15, and children under 12 enter free.",
            "About 5,000 visitors came on the opening weekend.",
        ],
        "How much does an adult ticket cost?",
    ),
    (
        [
            "Harbor Foods announced it will close its Denton plant at the end of March.",
            "The closure affects 220 workers, the company said in a statement.",
            "Production will move to a newer facility in Ohio.",
            "State officials said they would offer job-training grants to affected workers.",
        ],
        "How many workers are affected by the plant closure?",
    ),
    (
        [
            "The national weather service issued a heat advisory for the valley through Sunday.",
            "Temperatures are expected to reach 41 degrees Celsius on Thursday.",
            "Cooling centers will open at three public libraries.",
            "Officials urged residents to check on elderly neighbors.",
        ],
        "Where will cooling centers open?",
    ),
    (
        [
            "The Falcons beat the Rangers 3-1 in the regional final on Sunday night.",
            "Striker Ana Ruiz scored twice in the second half.",
            "The win sends the Falcons to the national tournament for the first time.",
            "Coach Lee credited the team's defense for the victory.",
        ],
        "Who scored twice for the Falcons?",
    ),
    (
        [
            "Researchers at Northgate University tested a new battery coating for six months.",
            "Cells with the coating kept 92 percent of their capacity after 1,000 cycles.",
            "Uncoated cells kept 71 percent under the same conditions.",
            "The team plans a larger trial with an automaker next year.",
        ],
        "How much capacity did coated cells keep after 1,000 cycles?",
    ),
    (
        [
            "The county library system will extend weekend hours starting in June.",
            "Branches will stay open until 8 p.m. on Saturdays.",
            "The change is funded by a state grant of $450,000.",
            "Library staff said demand for evening study space has grown.",
        ],
        "What pays for the extended library hours?",
    ),
]


@dataclass
class Timing:
    ttft: float
    total: float
    cpu: float  # process CPU seconds: about threads x total when the machine is otherwise idle


def user_message(evidence: list[str], question: str) -> str:
    lines = [f"[{n}] {sentence}" for n, sentence in enumerate(evidence, start=1)]
    return "Evidence:\n" + "\n".join(lines) + f"\n\nQuestion: {question}"


def timed(llm: LlamaCppLLM, system: str, user: str, max_tokens: int) -> tuple[Timing, str]:
    cpu_start = time.process_time()
    start = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    for delta in llm.stream(system, user, max_tokens):
        if first is None:
            first = time.perf_counter() - start
        parts.append(delta)
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return Timing(first if first is not None else total, total, cpu), "".join(parts)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB on Linux


def summary(label: str, timings: list[Timing]) -> tuple[float, float]:
    ttft = [t.ttft for t in timings]
    total = [t.total for t in timings]
    print(
        f"{label:<22} TTFT p50 {percentile(ttft, 50):5.2f} s  p95 {percentile(ttft, 95):5.2f} s"
        f"   answer p50 {percentile(total, 50):5.2f} s  p95 {percentile(total, 95):5.2f} s"
    )
    return percentile(ttft, 50), percentile(total, 50)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="n_threads and n_threads_batch")
    parser.add_argument("--n-batch", type=int)
    parser.add_argument("--n-ubatch", type=int)
    parser.add_argument("--flash-attn", action="store_true")
    parser.add_argument("--no-mmap", action="store_true")
    parser.add_argument("--max-tokens", type=int, help="default: RAG_LLM_MAX_TOKENS")
    parser.add_argument("--no-warm-up", action="store_true")
    parser.add_argument("--skip-uncached", action="store_true", help="skip the A/B half")
    parser.add_argument("--show", action="store_true", help="print the answers")
    args = parser.parse_args()

    settings = Settings.load()
    overrides: dict[str, Any] = {}
    if args.threads:
        overrides.update(n_threads=args.threads, n_threads_batch=args.threads)
    if args.n_batch:
        overrides["n_batch"] = args.n_batch
    if args.n_ubatch:
        overrides["n_ubatch"] = args.n_ubatch
    if args.flash_attn:
        overrides["flash_attn"] = True
    if args.no_mmap:
        overrides["use_mmap"] = False
    max_tokens = args.max_tokens or settings.llm.max_tokens

    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpus, load avg "
        f"{os.getloadavg()[0]:.2f}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
        f"threads {overrides.get('n_threads', settings.llm.threads)}, max_tokens {max_tokens}, "
        f"overrides {overrides}"
    )
    start = time.perf_counter()
    llm = LlamaCppLLM.load(settings, **overrides)
    print(f"load {time.perf_counter() - start:.2f} s  ({llm.name})")
    if not args.no_warm_up:
        start = time.perf_counter()
        llm.warm_up(SYSTEM)
        print(f"warm-up (system prompt evaluated) {time.perf_counter() - start:.2f} s")

    cached: list[Timing] = []
    uncached: list[Timing] = []
    for number, (evidence, question) in enumerate(CASES, start=1):
        user = user_message(evidence, question)
        timing, text = timed(llm, SYSTEM, user, max_tokens)
        cached.append(timing)
        line = (
            f"#{number} cached   TTFT {timing.ttft:5.2f} s  answer {timing.total:5.2f} s"
            f" (cpu {timing.cpu:5.2f} s)"
        )
        if not args.skip_uncached:
            # A system prompt that differs at its first token: no prefix can be re-used.
            cold, _ = timed(llm, f"({number}) {SYSTEM}", user, max_tokens)
            uncached.append(cold)
            line += f"   | uncached TTFT {cold.ttft:5.2f} s  answer {cold.total:5.2f} s"
        print(line + (f"\n    {text!r}" if args.show else ""), flush=True)

    cpu_share = sum(t.cpu for t in cached) / sum(t.total for t in cached)
    print(
        f"\nload avg now {os.getloadavg()[0]:.2f}; this process used {cpu_share:.2f} cores on "
        "average while answering (about the thread count when nothing else runs)"
    )
    ttft50, total50 = summary("shared system prompt", cached)
    if uncached:
        cold50, _ = summary("no prefix re-used", uncached)
        print(f"prefix caching: uncached/cached TTFT p50 = {cold50 / ttft50:.2f}x")
    print(
        f"first vs later TTFT (shared prompt): {cached[0].ttft:.2f} s vs p50 of the rest "
        f"{percentile([t.ttft for t in cached[1:]], 50):.2f} s"
    )
    rss = peak_rss_gb()
    print(f"peak RSS {rss:.2f} GB")
    met = ttft50 <= 1.5 and total50 <= 5.0 and rss <= 2.5
    print(
        f"targets (TTFT p50 <= 1.5 s, answer p50 <= 5 s, RSS <= 2.5 GB): "
        f"{'met' if met else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Cold one-shot CLI latency: `rag ask --answerer extractive --json` over seeds/, each call a
new process on an index that is up to date, this checkout against a baseline commit run side
by side (alternating, same machine, same venv), plus each side's import profile.

  python bench/bench_cli.py [--runs 7] [--baseline REF] [--question Q]

The baseline is checked out into a temporary git worktree and run with PYTHONPATH pointing at
it; each side gets its own index folder, built by one untimed call first. Target: this
checkout's p50 at most 6 s.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def command(question: str, *extra: str) -> list[str]:
    ask = ["ask", question, "--answerer", "extractive", "--json", "--docs", str(ROOT / "seeds")]
    return [sys.executable, *extra, "-m", "rag.cli", *ask]


def run(code: Path, cache: Path, question: str, *extra: str) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(code), "RAG_CACHE_DIR": str(cache)}
    t0 = time.perf_counter()
    done = subprocess.run(
        command(question, *extra), env=env, cwd=code, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - t0, done.stderr


def import_profile(stderr: str, top: int = 8) -> list[tuple[str, float]]:
    """Seconds of the biggest top-level imports (cumulative), from `python -X importtime`."""
    costs: Counter[str] = Counter()
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m:  # no indentation after "| ": imported by the program itself
            costs[m.group(2).split(".")[0]] += int(m.group(1)) / 1e6
    return costs.most_common(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", default="ac4158d", help="git ref to compare with")
    parser.add_argument("--question", default="Why were the drills suspended?")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.baseline],
            check=True,
            capture_output=True,
        )
        try:
            sides = {"this checkout": ROOT, f"baseline {args.baseline}": base}
            caches = {name: Path(tmp) / f"cache-{i}" for i, name in enumerate(sides)}
            for name, code in sides.items():  # build each side's index, untimed
                run(code, caches[name], args.question)
            times: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(args.runs):
                for name, code in sides.items():
                    times[name].append(run(code, caches[name], args.question)[0])
            profiles = {
                name: import_profile(run(code, caches[name], args.question, "-X", "importtime")[1])
                for name, code in sides.items()
            }
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False
            )
    print(
        f"cold `rag ask --answerer extractive --json` over seeds/, {args.runs} runs each, "
        f"alternating; load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores"
    )
    for name, values in times.items():
        print(
            f"  {name:22s} p50 {statistics.median(values):5.2f} s   p95 "
            f"{percentile(values, 95):5.2f} s   min {min(values):5.2f} s"
        )
    mine, theirs = (statistics.median(v) for v in times.values())
    print(f"  ratio baseline/this checkout (p50): {theirs / mine:.2f}x   target p50 <= 6 s")
    for name, profile in profiles.items():
        shown = ", ".join(f"{pkg} {s:.2f}" for pkg, s in profile)
        print(f"  imports, {name} (s, cumulative, -X importtime): {shown}")


if __name__ == "__main__":
    main()

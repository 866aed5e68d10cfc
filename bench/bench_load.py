"""Concurrent users (issue 12): wait and answer times for 1, 5 and 20 clients at once.

  python bench/bench_load.py [--levels 1,5,20] [--writers extractive,llm] [--mixed]
  python bench/bench_load.py --root ../baseline   # the same against other code (a git worktree)

Starts `python app.py` (of --root, default this checkout) over a temporary copy of seeds/,
once per writer (RAG_ANSWERER=<writer>; the app's /ask answers with its default writer, so
this works against code without /ask's `writer` parameter too). Then, for each level, that
many gradio_client clients, each in its own thread, submit three different seed questions at
once through /ask, and each request is timed from submit to answer on the client.

- answer: submit to answer, as the client sees it;
- wait: answer minus that question's service time, measured by asking it alone (one at a
  time, before the levels): the time spent behind other requests, in a queue or sharing the
  CPU.

The extractive run asks the seed set's 53 answerable questions in turn (client c asks
questions 3c..3c+2); the LLM run a pool of 12 of them (each asked alone first, for its
service time), so 20 clients ask each about five times. With --mixed, 5 LLM clients and 5
extractive clients ask at once (on the LLM app, through /ask's writer parameter), and the
extractive answers' times are printed: they should not include any LLM answer.

The machine's other work shows in these numbers: run it on an idle machine to compare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the seed questions the load tests ask, from tests/appserver.py

from tests.appserver import seed_questions  # noqa: E402

PER_CLIENT = 3
LLM_POOL = 12


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (as bench_core's; this script imports nothing of rag)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class App:
    """`python app.py` of `root` over a copy of seeds/, on a free loopback port."""

    def __init__(self, root: Path, tmp: Path, env: dict[str, str]):
        docs = tmp / "docs"
        shutil.copytree(ROOT / "seeds", docs)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        model = (
            Path.home() / ".cache" / "rag" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
        )
        full_env = {
            **os.environ,
            "OMP_WAIT_POLICY": "PASSIVE",
            "HF_HUB_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "RAG_PORT": str(self.port),
            "RAG_DOCS_DIR": str(docs),
            "RAG_CACHE_DIR": str(tmp / "cache"),
            "GRADIO_TEMP_DIR": str(tmp / "gradio"),
            **({"RAG_LLM_MODEL_PATH": str(model)} if model.exists() else {}),
            **env,
        }
        self.log = tmp / "server.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(root / "app.py")],
            cwd=root,
            env=full_env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"app.py exited:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise SystemExit(f"app.py did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def args_for(question: str, writer: str | None) -> tuple[Any, ...]:
    return (question, []) if writer is None else (question, [], writer)


def alone(url: str, questions: list[str], writer: str | None) -> dict[str, float]:
    """Each question's service time, asked alone (the best of two for short ones)."""
    c = client(url)
    times: dict[str, float] = {}
    for q in questions:
        t0 = time.perf_counter()
        c.predict(*args_for(q, writer), api_name="/ask")
        times[q] = time.perf_counter() - t0
    return times


def at_once(url: str, plans: list[list[str]], writer: str | None) -> list[tuple[str, float]]:
    """Every client submits its questions at once; (question, seconds to its answer) each."""
    clients = [client(url) for _ in plans]
    start = threading.Barrier(len(plans))

    def run(c: Any, questions: list[str]) -> list[tuple[str, float]]:
        start.wait()
        t0 = time.perf_counter()
        done: dict[int, float] = {}

        def finished(i: int) -> Any:
            return lambda *_: done.setdefault(i, time.perf_counter() - t0)

        jobs = [
            c.submit(*args_for(q, writer), api_name="/ask", result_callbacks=[finished(i)])
            for i, q in enumerate(questions)
        ]
        out = []
        for i, (q, job) in enumerate(zip(questions, jobs, strict=True)):
            result = job.result(timeout=1800)
            assert result["question"] == q, (q, result["question"])
            out.append((q, done.get(i, time.perf_counter() - t0)))
        return out

    with ThreadPoolExecutor(len(plans)) as pool:
        return [r for rs in pool.map(run, clients, plans) for r in rs]


def row(label: str, timed: list[tuple[str, float]], service: dict[str, float]) -> str:
    answers = [t for _, t in timed]
    waits = [max(0.0, t - service[q]) for q, t in timed]
    return (
        f"| {label} | {len(timed)} | {statistics.median(waits):.2f} s | "
        f"{percentile(waits, 95):.2f} s | {statistics.median(answers):.2f} s | "
        f"{percentile(answers, 95):.2f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,5,20")
    parser.add_argument("--writers", default="extractive,llm")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose app runs")
    parser.add_argument("--mixed", action="store_true", help="5 LLM + 5 extractive clients")
    parser.add_argument(
        "--api-writer",
        action="store_true",
        help="pass the writer to /ask (needs its writer parameter; --mixed does)",
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    questions = seed_questions()
    lines = [
        f"app of {args.root}, {os.cpu_count()} cores; each client asks {PER_CLIENT} "
        "questions at once",
        "",
        "| writer, clients | requests | wait p50 | wait p95 | answer p50 | answer p95 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for writer in args.writers.split(","):
        pool = questions if writer == "extractive" else questions[:LLM_POOL]
        api_writer = writer if args.api_writer or args.mixed else None
        with tempfile.TemporaryDirectory() as tmp:
            app = App(args.root, Path(tmp), {"RAG_ANSWERER": writer})
            try:
                t0 = time.perf_counter()
                service = alone(app.url, pool, api_writer)
                if writer == "extractive":  # short: keep the better of two
                    again = alone(app.url, pool, api_writer)
                    service = {q: min(service[q], again[q]) for q in pool}
                print(f"{writer}: {len(pool)} questions alone in {time.perf_counter() - t0:.1f} s")
                for n in levels:
                    plans = [
                        [pool[(PER_CLIENT * c + j) % len(pool)] for j in range(PER_CLIENT)]
                        for c in range(n)
                    ]
                    t0 = time.perf_counter()
                    timed = at_once(app.url, plans, api_writer)
                    print(f"{writer}, {n} clients: {time.perf_counter() - t0:.1f} s")
                    lines.append(row(f"{writer}, {n}", timed, service))
                if args.mixed and writer == "llm":
                    fast = alone(app.url, questions, "extractive")
                    llm_plans = [
                        [pool[(3 * c + j) % len(pool)] for j in range(3)] for c in range(5)
                    ]
                    ext_plans = [questions[3 * c : 3 * c + 3] for c in range(5)]
                    results: dict[str, list[tuple[str, float]]] = {}
                    with ThreadPoolExecutor(2) as outer:
                        slow = outer.submit(at_once, app.url, llm_plans, "llm")
                        time.sleep(1.0)
                        results["extractive"] = at_once(app.url, ext_plans, "extractive")
                        results["llm"] = slow.result()
                    lines.append(
                        row("extractive beside 5 LLM clients, 5", results["extractive"], fast)
                    )
                    lines.append(row("LLM beside 5 extractive clients, 5", results["llm"], service))
            finally:
                app.stop()
    print("\n".join(lines))


if __name__ == "__main__":
    main()

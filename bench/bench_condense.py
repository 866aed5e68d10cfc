"""The condense step's added latency: how long a follow-up waits for the LLM's rewrite (issue 9).

  python bench/bench_condense.py [--turns N] [--conversations eval/conversations.jsonl]

Builds the engine over seeds/ with the packaged LLM, warms both kept prompt prefixes (the
answer writer's and the condense step's), then for each follow-up of the conversation file
that leans on the conversation (the ones that reach the LLM) times the rewrite three times,
each after an answer prompt as in a real chat:

- typed: the conversation was read ahead (`Condenser.prepare`, what the chat does while the
  person reads the answer), then the follow-up is typed a character every TYPING_S seconds,
  each keystroke read ahead as the chat page does (its `.input` event runs the latest text
  once the previous read-ahead is done: trigger_mode="always_last"), and Enter is pressed
  ENTER_AFTER_S after the last character; timed from Enter, a read-ahead still running
  included: the added latency a person in the chat sees;
- prepared: the conversation read ahead, not the follow-up (`rag chat` in a terminal);
- cold: nothing read ahead (the /ask API, or a follow-up sent within a second).

Earlier turns are given the gold sentence as their answer (an answer's length, without
writing one). Prints p50/p95 of each, how many rewrites passed the check, and the time to
restore the answer prompt's prefix afterwards. Target: the chat's (typed) p50 <= 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402,F401  (OMP_WAIT_POLICY and offline switches before torch/llama.cpp)
from rag.conversation.rules import needs_context  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.types import Exchange  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from bench_core import percentile  # noqa: E402

NO_ANSWER = "The documents don't say."
TYPING_S = 0.15  # a character every 0.15 s: 80 words a minute, a fast typist
ENTER_AFTER_S = 0.3  # from the last character to Enter


def type_out(condenser: Any, history: list[Exchange], question: str) -> None:
    """Types `question` as a person would, the page reading ahead each keystroke's text (the
    latest one, once the previous read-ahead is done), and returns when Enter is pressed."""
    latest: list[str | None] = [None]
    typed = threading.Event()

    def page() -> None:
        while typed.wait():
            typed.clear()
            text = latest[0]
            if text is None:
                return
            condenser.prepare(history, text)

    reader = threading.Thread(target=page, daemon=True)
    reader.start()
    for end in range(1, len(question) + 1):
        latest[0] = question[:end]
        typed.set()
        time.sleep(TYPING_S)
    time.sleep(ENTER_AFTER_S - TYPING_S)
    latest[0] = None  # sent: a keystroke not yet read ahead is dropped
    typed.set()


def answer_prompt(writer: Any, question: str) -> None:
    """One token of an answer prompt, as a chat's next answer would start: the writer's kept
    prefix is restored in place of the condense prompt's."""
    for _ in writer.llm.stream(writer.system.text, writer.prompt(question, writer.context([])), 1):
        pass


def follow_ups(path: Path, limit: int) -> list[tuple[list[Exchange], str]]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        turns = json.loads(line)["turns"]
        for i in range(1, len(turns)):
            if needs_context(turns[i]["question"]):
                history = [
                    Exchange(t["question"], " ".join(t["gold_sentences"]) or NO_ANSWER)
                    for t in turns[:i]
                ]
                cases.append((history, turns[i]["question"]))
    return cases[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=24)
    parser.add_argument("--conversations", default=str(ROOT / "eval" / "conversations.jsonl"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(
            docs_dir=ROOT / "seeds", cache_dir=Path(tmp), answerer="llm", condense="llm"
        )
        engine = Engine(settings)
        engine.ingest()
        writer = engine.writers.ready("llm")
        condenser = engine.condenser
        condenser.llm()  # keeps the condense prefix
        cases = follow_ups(Path(args.conversations), args.turns)
        times: dict[str, list[float]] = {"typed": [], "prepared": [], "cold": []}
        restore: list[float] = []
        accepted = 0
        for history, question in cases:
            for mode, column in times.items():
                if mode != "cold":
                    condenser.prepare(history)
                if mode == "typed":
                    type_out(condenser, history, question)
                started = time.perf_counter()
                rewrite = condenser.rewrite(question, history)
                column.append(time.perf_counter() - started)
                started = time.perf_counter()
                answer_prompt(writer, rewrite.question)
                if mode == "typed":
                    restore.append(time.perf_counter() - started)
                    accepted += rewrite.method == "llm"
                    print(
                        f"{column[-1]:5.2f} s  {rewrite.method:<5} "
                        f"{question!r} -> {rewrite.question!r}"
                    )
    print()
    print(f"follow-ups that reached the LLM: {len(cases)}; rewrites that passed: {accepted}")
    for name, values in times.items():
        print(
            f"condense {name:<9} p50 {statistics.median(values):5.2f} s   "
            f"p95 {percentile(values, 95):5.2f} s"
        )
    ratio = statistics.median(times["cold"]) / statistics.median(times["typed"])
    print(f"cold / typed p50 ratio: {ratio:.2f}")
    print(
        f"answer prompt after a rewrite (prefix restored): p50 {statistics.median(restore):.2f} s"
    )
    print("target: typed (the chat page) p50 <= 1.5 s")


if __name__ == "__main__":
    main()

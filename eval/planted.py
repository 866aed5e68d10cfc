"""Measures the citation support check (rag/citations.py) on planted wrong answers.

  python eval/planted.py [--questions eval/questions.jsonl] [--docs seeds]

For every answerable question with a gold sentence S and gold answer A, it builds claims and
asks the support check (with the real embedding model) whether S supports them:
  right      S itself, and S shortened to the clause around A      -> should be supported
  swapped    S, and its clause around A, with A replaced by the gold answer of another
             question                                               -> should be rejected
  miscited   S cited to a different sentence of the document        -> should be rejected
  invented   an off-topic claim cited to S                          -> should be rejected
It prints how often each kind is judged as it should be, by the words check alone and with the
reader (rag/models/reader.py: the cited sentence must answer the question, as the LLM writer's
check requires with RAG_READER=model).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path

import rag  # noqa: F401  (offline switches before torch loads)
from rag.answer.citations import support
from rag.ingest.sentences import split_sentences
from rag.models.embedder import make_embedder
from rag.models.reader import Reader, pair_text
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
INVENTED = [
    "Paris is the capital of France.",
    "The drills were cancelled because of a typhoon in 2021.",
    "The meeting took place in Busan with President Moon Jae-in.",
    "Both navies will send 40 warships to the Arctic.",
]


def clause_around(sentence: str, answer: str) -> str:
    parts = re.split(r",\s+|;\s+", sentence)
    for part in parts:
        if answer.lower() in part.lower():
            return part.rstrip(".") + "."
    return sentence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=ROOT / "eval" / "questions.jsonl")
    parser.add_argument("--docs", type=Path, default=ROOT / "seeds")
    args = parser.parse_args()
    rows = [
        json.loads(x) for x in args.questions.read_text(encoding="utf-8").splitlines() if x.strip()
    ]
    rows = [r for r in rows if not r["is_impossible"] and r["gold_sentences"] and r["answers"]]
    doc_sentences = {
        p.name: [s.text for s in split_sentences(p.name, p.read_text(encoding="utf-8"))]
        for p in sorted(args.docs.glob("*.txt"))
    }
    settings = Settings.load()
    embed = make_embedder(settings.index).embed
    rng = random.Random(7)
    cases: list[tuple[str, str, str, str, bool]] = []  # kind, claim, cited, question, expected
    for r in rows:
        gold, answer, q = r["gold_sentences"][0], r["answers"][0], r["question"]
        cases.append(("right", gold, gold, q, True))
        cases.append(("right", clause_around(gold, answer), gold, q, True))
        others = [o["answers"][0] for o in rows if o["answers"][0].lower() not in gold.lower()]
        if answer in gold and others:
            short = clause_around(gold, answer)
            cases.append(("swapped", gold.replace(answer, rng.choice(others)), gold, q, False))
            cases.append(("swapped", short.replace(answer, rng.choice(others)), gold, q, False))
        pool = [
            s
            for s in doc_sentences.get(r["doc_id"], [])
            if s != gold and s not in r["gold_sentences"]
        ]
        if pool:
            cases.append(("miscited", gold, rng.choice(pool), q, False))
        cases.append(("invented", rng.choice(INVENTED), gold, q, False))
    vectors = embed([c[1] for c in cases] + [c[2] for c in cases])
    reader = Reader()
    before = {
        s: p
        for sentences in doc_sentences.values()
        for p, s in zip([None, *sentences], sentences, strict=False)
    }
    n = len(cases)
    for with_reader in (False, True):
        ok: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for i, (kind, claim, cited, q, expected) in enumerate(cases):
            sim = float(vectors[i] @ vectors[n + i])
            total[kind] += 1
            supported = support(claim, [cited], q, sim, settings.answer).supported
            if supported and with_reader:
                answers = reader.scores(q, [pair_text(cited, before.get(cited))])[0]
                supported = answers >= settings.answer.support_min_reader
            ok[kind] += supported == expected
        report(ok, total, len(rows), n, "words and the reader" if with_reader else "words alone")


def report(ok: Counter[str], total: Counter[str], questions: int, n: int, how: str) -> None:
    print(f"support check on planted answers ({questions} questions, {n} claims), {how}")
    for kind in ("right", "swapped", "miscited", "invented"):
        verb = "accepted" if kind == "right" else "rejected"
        print(f"  {kind:9s} {ok[kind]:3d}/{total[kind]:<3d} {verb}  ({ok[kind] / total[kind]:.0%})")
    wrong = sum(total[k] for k in ("swapped", "miscited", "invented"))
    caught = sum(ok[k] for k in ("swapped", "miscited", "invented"))
    print(
        f"  planted wrong answers caught: {caught}/{wrong} ({caught / wrong:.0%}); "
        f"right answers kept: {ok['right']}/{total['right']} ({ok['right'] / total['right']:.0%})"
    )


if __name__ == "__main__":
    main()

"""`rag eval`: loads a question set, maps its gold to corpus sentences, asks a system (our
engine or the LlamaIndex baseline) every question, scores the answers (rag/eval/metrics.py)
and writes the report (rag/eval/report.py)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.errors import RagError
from rag.eval.gold import Gold, gold_for
from rag.eval.metrics import (
    QuestionScore,
    answer_scores,
    citation_counts,
    contains_gold,
    first_hit_rank,
)
from rag.eval.questions import EvalQuestion, load_questions, select_questions
from rag.eval.report import (
    KS,
    QuestionRecord,
    add_gate,
    build_report,
    format_report,
    gate_verdict,
    load_thresholds,
    previous_parts,
)
from rag.eval.systems import System, make_system
from rag.settings import Settings
from rag.types import Answer

log = logging.getLogger(__name__)

RANK_DEPTH = 10  # MRR is MRR@10


def evaluate_question(system: System, question: EvalQuestion, gold: Gold) -> QuestionRecord:
    error = ""
    rank = None
    ranked: list[tuple[str, ...]] = []
    answer: Answer | None = None
    latency = 0.0
    try:
        ranked = system.ranked(question.question, question.history, RANK_DEPTH)
        rank = first_hit_rank(ranked, gold.sentence_ids)
        started = time.perf_counter()
        answer = system.answer(question.question, question.history)
        latency = time.perf_counter() - started
    except RagError as exc:
        error = str(exc)
        log.warning("%s: %s", question.id, error)
    refused = bool(answer and answer.refused)
    text = answer.text if answer else ""
    em, f1 = answer_scores(text, refused, question.answers, question.impossible)
    if error:  # a failure is neither a right answer nor a right refusal
        em = f1 = 0.0
    cited = [(c.n, c.sentence_id) for c in answer.citations] if answer else []
    counts = citation_counts(
        cited, gold.support_ids, gold.sentence_ids, gold_alternatives=question.format == "squad"
    )
    score = QuestionScore(
        id=question.id,
        type=question.type,
        impossible=question.impossible,
        refused=refused,
        exact_match=em,
        f1=f1,
        rank=rank,
        has_gold=bool(gold.sentence_ids),
        citations=counts,
        latency_s=latency,
        error=error,
        contains_gold=bool(
            answer and not refused and not error and contains_gold(text, question.answers)
        ),
        low_confidence=bool(answer and answer.low_confidence),
    )
    row = {
        "id": question.id,
        "type": question.type,
        "question": question.question,
        "history": list(question.history),
        "impossible": question.impossible,
        "answers": list(question.answers),
        "answer": text,
        "refused": refused,
        "decision": answer.decision.outcome if answer else "",
        "reason": answer.decision.reason if answer else "",
        "low_confidence": score.low_confidence,
        "note": answer.note if answer else "",
        "citations": [[n, sid] for n, sid in cited],
        "gold_sentence_ids": sorted(gold.sentence_ids),
        "retrieved": [list(unit) for unit in ranked[: max(KS)]],
        "rank": rank,
        "exact_match": em,
        "f1": round(f1, 4),
        "contains_gold": score.contains_gold,
        "citations_supported": counts.supported,
        "citations_markers_supported": counts.markers_supported,
        "gold_cited": counts.gold_cited,
        "latency_s": round(latency, 4),
        "error": error,
    }
    return QuestionRecord(score, row)


Progress = Callable[[int, int], None]


def evaluate(
    system: System, questions: Sequence[EvalQuestion], progress: Progress | None = None
) -> list[QuestionRecord]:
    corpus = system.corpus
    records = []
    for i, question in enumerate(questions, start=1):
        records.append(evaluate_question(system, question, gold_for(question, corpus)))
        if progress:
            progress(i, len(questions))
    return records


def run_command(
    args: argparse.Namespace, make_settings: Callable[[argparse.Namespace], Settings]
) -> int:
    """`rag eval`: run, print the table, write the JSON report, check the thresholds."""
    questions_path = Path(args.questions)
    if not getattr(args, "docs", None) and (questions_path.parent / "docs").is_dir():
        args.docs = str(questions_path.parent / "docs")  # the SQuAD-style layout
    if args.system == "baseline" and getattr(args, "answerer", None):
        log.warning("--answerer is ignored with --system baseline")
        args.answerer = None
    settings = make_settings(args)
    all_questions = load_questions(questions_path)
    selected = select_questions(all_questions, args.limit, args.sample_seed)
    thresholds = load_thresholds(Path(args.check)) if args.check else None
    previous = previous_parts(getattr(args, "previous", None), thresholds is not None)

    system = make_system(args.system, settings)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    system.ingest()
    seconds["ingest"] = time.perf_counter() - started
    started = time.perf_counter()
    system.warm_up()
    seconds["warm_up"] = time.perf_counter() - started

    def progress(done: int, total: int) -> None:
        if done % 10 == 0 or done == total:
            elapsed = time.perf_counter() - started
            print(f"eval: {done}/{total} questions, {elapsed:.0f} s", file=sys.stderr, flush=True)

    started = time.perf_counter()
    records = evaluate(system, selected, progress)
    seconds["questions"] = time.perf_counter() - started
    report = build_report(
        system,
        settings,
        questions_path,
        all_questions,
        selected,
        records,
        limit=args.limit,
        sample_seed=args.sample_seed,
        seconds=seconds,
    )
    previous_path = getattr(args, "previous", None)
    add_gate(
        report, thresholds, source=args.check, previous=previous, previous_source=previous_path
    )
    print(format_report(report))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"report written to {args.out}", file=sys.stderr)
    if thresholds is None:
        return 0
    answerer = report["run"]["answerer"]
    code, lines = gate_verdict(report.get("gate"), "eval", answerer, args.check, previous_path)
    print("\n".join(lines), file=sys.stderr)
    return code

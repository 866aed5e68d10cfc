"""`rag eval --conversations FILE`: multi-turn conversations, answered turn by turn through one
`Conversation` each (the chat's road: condense step, memory, engine), scored per turn.

A conversation file holds one conversation per line: `id`, `doc_id`, `turns`; each turn has
`question`, `answers`, `gold_sentences` (verbatim), `is_impossible`, `kind` (first, pronoun,
ellipsis, switch, out-of-scope, standalone-followup), `standalone` (a reference rewrite),
`needs` (groups of words, one of each group must be in a right rewrite: the referent) and
`avoid` (words of the old topic a right rewrite of a topic switch must not hold).

Metrics:
- `turn_accuracy`: a turn is right when an answerable one is answered with a gold answer in
  its text and a gold sentence among its citations, or an unanswerable one is refused;
- `follow_up_accuracy`: the same over turns after the first;
- `rewrite_accuracy`: over follow-ups, what was searched for (the rewrite, or the question
  as asked) holds a word of every `needs` group and none of `avoid`;
- `refusal_recall` (unanswerable turns refused), `false_refusal_rate` (answerable refused).

Each is a share of turns: `--check` reads its Wilson bound (turns counted as n), and with
`--previous REPORT` a paired bootstrap over the turns both reports hold (rag/eval/bounds.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.conversation.chat import Conversation
from rag.errors import RagError
from rag.eval.bounds import Z_ONE_SIDED_95, Part, metric_bounds
from rag.eval.gold import gold_for
from rag.eval.metrics import NOT_METRICS, normalize_answer, percentile, strip_markers
from rag.eval.paths import portable_path
from rag.eval.questions import EvalDataError, EvalQuestion, read_jsonl, select_questions
from rag.eval.report import (
    add_gate,
    file_sha256,
    format_gate,
    gate_verdict,
    git_state,
    load_thresholds,
    previous_parts,
    settings_record,
)
from rag.settings import Settings
from rag.text import stem
from rag.types import Answer


@dataclass(frozen=True)
class Turn:
    question: EvalQuestion  # the turn as a question (its gold, answers, impossibility)
    kind: str
    standalone: str
    needs: tuple[tuple[str, ...], ...]
    avoid: tuple[str, ...]


@dataclass(frozen=True)
class EvalConversation:
    id: str
    turns: tuple[Turn, ...]


def parse_conversation(data: Any, where: str) -> EvalConversation:
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list) or not data["turns"]:
        raise EvalDataError(f'{where}: expected an object with a non-empty "turns" list')
    cid = str(data.get("id") or where)
    turns = []
    for i, t in enumerate(data["turns"], start=1):
        if not isinstance(t, dict) or not isinstance(t.get("question"), str):
            raise EvalDataError(f'{where} turn {i}: expected an object with a "question"')
        answers = t.get("answers") or []
        impossible = bool(t.get("is_impossible", not answers))
        if not impossible and not answers:
            raise EvalDataError(f'{where} turn {i}: an answerable turn needs "answers"')
        question = EvalQuestion(
            id=f"{cid}/{i}",
            question=t["question"].strip(),
            answers=tuple(str(a) for a in answers),
            impossible=impossible,
            doc_id=t.get("doc_id") or data.get("doc_id"),
            type=str(t.get("kind") or ""),
            gold_sentences=tuple(str(g) for g in t.get("gold_sentences") or []),
        )
        needs = tuple(tuple(str(w).lower() for w in group) for group in t.get("needs") or [])
        avoid = tuple(str(w).lower() for w in t.get("avoid") or [])
        turns.append(Turn(question, question.type, str(t.get("standalone") or ""), needs, avoid))
    return EvalConversation(cid, tuple(turns))


def load_conversations(path: Path) -> list[EvalConversation]:
    return [parse_conversation(data, where) for data, where in read_jsonl(path, "conversation")]


# -- scoring (pure) ------------------------------------------------------------------------------


def holds_gold(text: str, answers: Sequence[str]) -> bool:
    said = f" {normalize_answer(strip_markers(text))} "
    return any(f" {normalize_answer(a)} " in said for a in answers if normalize_answer(a))


def _has_word(text_stems: set[str], text: str, word: str) -> bool:
    return stem(word) in text_stems or word in text.lower()


def rewrite_right(searched: str, needs: Sequence[Sequence[str]], avoid: Sequence[str]) -> bool:
    stems = {stem(w.lower()) for w in re.findall(r"[^\W_]+", searched)}
    return all(any(_has_word(stems, searched, w) for w in group) for group in needs) and not any(
        _has_word(stems, searched, w) for w in avoid
    )


def turn_right(
    answer: Answer | None, impossible: bool, answers: Sequence[str], gold: Collection[str]
) -> bool:
    if answer is None:
        return False
    if impossible:
        return answer.refused
    return (
        not answer.refused
        and holds_gold(answer.text, answers)
        and any(c.sentence_id in gold for c in answer.citations)
    )


def turn_parts(row: Mapping[str, Any]) -> dict[str, Part]:
    """What one turn adds to each share of `summarize_turns`: (1 if so, 1)."""
    parts = {"turn_accuracy": (float(row["right"]), 1.0)}
    if row["turn"] > 1:
        parts["follow_up_accuracy"] = (float(row["right"]), 1.0)
        parts["rewrite_accuracy"] = (float(row["rewrite_right"]), 1.0)
    refusal = "refusal_recall" if row["impossible"] else "false_refusal_rate"
    parts[refusal] = (float(row["refused"]), 1.0)
    return parts


def report_turn_parts(report: Mapping[str, Any], where: str) -> dict[str, dict[str, Part]]:
    """{turn id: its parts}, from a conversation report's "turns"."""
    try:
        return {str(row["id"]): turn_parts(row) for row in report["turns"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise EvalDataError(f"{where}: not a conversation eval report ({exc!r})") from exc


def summarize_turns(rows: Sequence[dict[str, Any]], z: float = Z_ONE_SIDED_95) -> dict[str, Any]:
    """The shares of turns; "counts" ({metric: [turns, n]}), "bounds" (Wilson, one-sided at
    z) and "bounds_z" beside them."""

    def share(items: list[bool]) -> float | None:
        return round(sum(items) / len(items), 4) if items else None

    follow = [r for r in rows if r["turn"] > 1]
    impossible = [r for r in rows if r["impossible"]]
    answerable = [r for r in rows if not r["impossible"]]
    latencies = [r["latency_s"] for r in rows]
    out: dict[str, Any] = {
        "turns": len(rows),
        "turn_accuracy": share([r["right"] for r in rows]),
        "follow_up_accuracy": share([r["right"] for r in follow]),
        "rewrite_accuracy": share([r["rewrite_right"] for r in follow]),
        "rewritten_by_llm": sum("rewritten by llm" in r["note"] for r in follow),
        "rewritten_by_rules": sum("rewritten by rules" in r["note"] for r in follow),
        "refusal_recall": share([r["refused"] for r in impossible]),
        "false_refusal_rate": share([r["refused"] for r in answerable]),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
    }
    out["counts"], out["bounds"] = metric_bounds([turn_parts(r) for r in rows], list(out), z)
    out["bounds_z"] = z
    return out


# -- running -------------------------------------------------------------------------------------


def run_conversations(
    engine: Any, conversations: Sequence[EvalConversation], questions_only: bool = False
) -> list[dict[str, Any]]:
    """Each conversation through its own Conversation (the chat's road), or, `questions_only`,
    as the /ask API is called: each turn with the earlier questions as its history."""
    rows = []
    for done, conv in enumerate(conversations, start=1):
        chat = Conversation(engine)
        asked: list[str] = []
        for i, turn in enumerate(conv.turns, start=1):
            q = turn.question
            gold = gold_for(q, engine.store.corpus).sentence_ids
            answer: Answer | None = None
            error = ""
            started = time.perf_counter()
            try:
                if questions_only:
                    answer = engine.answer(q.question, list(asked))
                    asked.append(q.question)
                else:
                    answer = chat.answer(q.question)
            except RagError as exc:
                error = str(exc)
            latency = time.perf_counter() - started
            searched = (answer.searched or answer.question) if answer else q.question
            rows.append(
                {
                    "id": q.id,
                    "turn": i,
                    "kind": turn.kind,
                    "question": q.question,
                    "searched": searched,
                    "reference_rewrite": turn.standalone,
                    "rewrite_right": rewrite_right(searched, turn.needs, turn.avoid),
                    "impossible": q.impossible,
                    "answers": list(q.answers),
                    "answer": answer.text if answer else "",
                    "refused": bool(answer and answer.refused),
                    "citations": [c.sentence_id for c in answer.citations] if answer else [],
                    "gold_sentence_ids": sorted(gold),
                    "right": turn_right(answer, q.impossible, q.answers, gold),
                    "note": answer.note if answer else "",
                    "latency_s": round(latency, 4),
                    "error": error,
                }
            )
        print(f"eval: {done}/{len(conversations)} conversations", file=sys.stderr, flush=True)
    return rows


def sample_conversations(
    everything: Sequence[EvalConversation], limit: int | None, seed: int
) -> list[EvalConversation]:
    # the sample is of conversations, never of turns: a follow-up needs its turns before it
    firsts = [c.turns[0].question for c in everything]
    picked = {q.id for q in select_questions(firsts, limit, seed)}
    return [c for c in everything if c.turns[0].question.id in picked]


def run_command(
    args: argparse.Namespace, make_settings: Callable[[argparse.Namespace], Settings]
) -> int:
    from rag.engine import Engine
    from rag.eval.identity import answerability_identity, llm_identity, reader_identity

    path = Path(args.conversations)
    settings = make_settings(args)
    thresholds = load_thresholds(Path(args.check)) if args.check else None
    previous_path = getattr(args, "previous", None)
    previous = previous_parts(previous_path, thresholds is not None, report_turn_parts)
    everything = load_conversations(path)
    selected = sample_conversations(everything, args.limit, args.sample_seed)
    engine = Engine(settings)
    engine.ingest()
    engine.evidence("warm up")
    writer = engine.writers.ready()
    if settings.chat.condense != "rules":
        engine.condenser.llm()
    started = time.perf_counter()
    rows = run_conversations(engine, selected, questions_only=args.history == "questions")
    metrics = summarize_turns(rows)
    by_kind = {
        kind: summarize_turns([r for r in rows if r["kind"] == kind])
        for kind in sorted({r["kind"] for r in rows})
    }
    report: dict[str, Any] = {
        "run": {
            "system": "rag",
            "answerer": writer.name,
            "condense": settings.chat.condense,
            "history": args.history,
            "llm": llm_identity(settings, engine.writers.get("llm"))
            if engine.writers.llm_installed() and settings.chat.condense != "rules"
            else None,
            "reader": reader_identity(settings),
            "answerability": answerability_identity(settings),
            "git": git_state(),
            "settings": settings_record(settings),
            "seconds": round(time.perf_counter() - started, 1),
        },
        "dataset": {
            "conversations_file": portable_path(path),
            "conversations_sha256": file_sha256(path),
            "docs": portable_path(settings.index.docs_dir),
            "conversations_in_file": len(everything),
            "conversations_run": len(selected),
            "limit": args.limit,
            "sample_seed": args.sample_seed if args.limit else None,
            "kinds": dict(Counter(r["kind"] for r in rows)),
        },
        "metrics": metrics,
        "by_kind": by_kind,
        "turns": rows,
    }
    add_gate(
        report,
        thresholds,
        source=args.check,
        previous=previous,
        previous_source=previous_path,
        parts_of=report_turn_parts,
    )
    print(format_conversation_report(report))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if thresholds is None:
        return 0
    code, lines = gate_verdict(
        report.get("gate"), "conversation eval", writer.name, args.check, previous_path
    )
    print("\n".join(lines), file=sys.stderr)
    return code


def format_conversation_report(report: dict[str, Any]) -> str:
    run, data = report["run"], report["dataset"]
    lines = [
        f"answerer: {run['answerer']}   condense: {run['condense']}   "
        f"history: {run['history']}   "
        f"conversations: {data['conversations_file']} ({data['conversations_run']} of "
        f"{data['conversations_in_file']})",
        "",
    ]
    bounds = report["metrics"].get("bounds") or {}
    for k, v in report["metrics"].items():
        if k not in NOT_METRICS:
            b = bounds.get(k)
            side = f"   [{b['lower']:.3f}, {b['upper']:.3f}]" if b else ""
            lines.append(f"{k:<24} {v}{side}")
    columns = ("turns", "turn_accuracy", "rewrite_accuracy", "refusal_recall")
    lines += ["", f"{'kind':<22}" + "".join(f"{c:>18}" for c in columns)]
    for kind, m in report["by_kind"].items():
        lines.append(f"{kind:<22}" + "".join(f"{m[c]!s:>18}" for c in columns))
    wrong = defaultdict(list)
    for r in report["turns"]:
        if not r["right"]:
            wrong[r["kind"]].append(r["id"])
    if wrong:
        lines += ["", "wrong turns: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in wrong.items())]
    if report.get("gate"):
        lines += ["", *format_gate(report["gate"])]
    return "\n".join(lines)

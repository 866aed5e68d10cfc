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
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.conversation.chat import Conversation
from rag.errors import RagError
from rag.eval.gold import gold_for
from rag.eval.metrics import check_thresholds, normalize_answer, percentile, strip_markers
from rag.eval.paths import portable_path
from rag.eval.questions import EvalDataError, EvalQuestion, read_jsonl, select_questions
from rag.eval.report import file_sha256, git_state, load_thresholds, settings_record
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


def summarize_turns(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def share(items: list[bool]) -> float | None:
        return round(sum(items) / len(items), 4) if items else None

    follow = [r for r in rows if r["turn"] > 1]
    impossible = [r for r in rows if r["impossible"]]
    answerable = [r for r in rows if not r["impossible"]]
    latencies = [r["latency_s"] for r in rows]
    return {
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


def run_command(
    args: argparse.Namespace, make_settings: Callable[[argparse.Namespace], Settings]
) -> int:
    from rag.engine import Engine
    from rag.eval.identity import llm_identity

    path = Path(args.conversations)
    settings = make_settings(args)
    everything = load_conversations(path)
    # the sample is of conversations, never of turns: a follow-up needs its turns before it
    picked = {
        q.id
        for q in select_questions(
            [c.turns[0].question for c in everything], args.limit, args.sample_seed
        )
    }
    selected = [c for c in everything if c.turns[0].question.id in picked]
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
    report = {
        "run": {
            "system": "rag",
            "answerer": writer.name,
            "condense": settings.chat.condense,
            "history": args.history,
            "llm": llm_identity(settings, engine.writers.get("llm"))
            if engine.writers.llm_installed() and settings.chat.condense != "rules"
            else None,
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
    print(format_conversation_report(report))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if not args.check:
        return 0
    thresholds = load_thresholds(Path(args.check))
    if writer.name not in thresholds:
        print(f"error: {args.check} has no thresholds for answerer {writer.name}", file=sys.stderr)
        return 1
    failures = check_thresholds(metrics, thresholds[writer.name])
    for line in failures:
        print(f"  below minimum: {line}", file=sys.stderr)
    print(
        f"conversation eval {'FAILED' if failures else 'passed'} for answerer {writer.name}",
        file=sys.stderr,
    )
    return 1 if failures else 0


def format_conversation_report(report: dict[str, Any]) -> str:
    run, data = report["run"], report["dataset"]
    lines = [
        f"answerer: {run['answerer']}   condense: {run['condense']}   "
        f"history: {run['history']}   "
        f"conversations: {data['conversations_file']} ({data['conversations_run']} of "
        f"{data['conversations_in_file']})",
        "",
    ]
    lines += [f"{k:<24} {v}" for k, v in report["metrics"].items()]
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
    return "\n".join(lines)

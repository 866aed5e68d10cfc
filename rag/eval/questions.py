"""Question sets for `rag eval`, in two formats told apart per line:

- ours (eval/questions.jsonl): id, question, answers, gold_sentences (verbatim sentence texts),
  is_impossible, doc_id, type, history (earlier user questions, oldest first);
- SQuAD-style (../shared/eval-data/squad2-dev-open15): id, question, answers, is_impossible,
  doc_id (names docs/<doc_id>.txt), gold_passage, gold_span ([start, end) of the passage in the
  doc), optionally answer_spans ([start, end) of each answer in the doc).

Gold is given by text or offsets, never by sentence id, so it survives re-segmentation.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import RagError


class EvalDataError(RagError):
    """A question file or a thresholds file cannot be used."""


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    impossible: bool
    doc_id: str | None = None
    type: str = ""
    history: tuple[str, ...] = ()
    gold_sentences: tuple[str, ...] = ()  # our format: verbatim sentence texts
    gold_passage: str | None = None  # SQuAD format
    gold_span: tuple[int, int] | None = None
    answer_spans: tuple[tuple[int, int], ...] = ()

    @property
    def format(self) -> str:
        return "squad" if self.gold_passage is not None or self.gold_span else "rag"


def _span(value: Any) -> tuple[int, int] | None:
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) for v in value)
    ):
        return int(value[0]), int(value[1])
    return None


def parse_question(data: Any, where: str) -> EvalQuestion:
    if not isinstance(data, dict):
        raise EvalDataError(f"{where}: expected a JSON object")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise EvalDataError(f'{where}: "question" must be a non-empty string')
    answers = data.get("answers") or []
    if isinstance(answers, list):  # SQuAD's own {"text": ..., "answer_start": ...} too
        answers = [a.get("text") if isinstance(a, dict) else a for a in answers]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise EvalDataError(f'{where}: "answers" must be a list of strings')
    impossible = bool(data.get("is_impossible", not answers))
    if not impossible and not answers:
        raise EvalDataError(f'{where}: an answerable question needs "answers"')
    history = data.get("history") or []
    gold = data.get("gold_sentences") or []
    passage = data.get("gold_passage")
    return EvalQuestion(
        id=str(data.get("id") or where),
        question=question.strip(),
        answers=tuple(answers),
        impossible=impossible,
        doc_id=str(data["doc_id"]) if data.get("doc_id") else None,
        type=str(data.get("type") or ""),
        history=tuple(str(h) for h in history),
        gold_sentences=tuple(str(g) for g in gold),
        gold_passage=passage if isinstance(passage, str) and passage else None,
        gold_span=_span(data.get("gold_span")),
        answer_spans=tuple(s for s in map(_span, data.get("answer_spans") or []) if s),
    )


def read_jsonl(path: Path, what: str) -> list[tuple[Any, str]]:
    """One JSON object per line, with where it stands ("file line 3"); blank lines are skipped.
    EvalDataError when the file cannot be read, a line is not JSON, or there is no line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalDataError(f"cannot read the {what} file {path}: {exc.strerror}") from exc
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            out.append((json.loads(line), where))
        except ValueError as exc:
            raise EvalDataError(f"{where}: not valid JSON ({exc})") from exc
    if not out:
        raise EvalDataError(f"the {what} file {path} holds no {what}s")
    return out


def load_questions(path: Path) -> list[EvalQuestion]:
    questions = [parse_question(data, where) for data, where in read_jsonl(path, "question")]
    ids = Counter(q.id for q in questions)
    if dupes := [i for i, n in ids.items() if n > 1]:
        raise EvalDataError(f"{path.name}: duplicate question ids {dupes[:5]}")
    return questions


def select_questions(
    questions: Sequence[EvalQuestion], limit: int | None, seed: int = 0
) -> list[EvalQuestion]:
    """A deterministic sample of `limit` questions (in file order), or all of them."""
    if not limit or limit >= len(questions):
        return list(questions)
    picked = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in picked]

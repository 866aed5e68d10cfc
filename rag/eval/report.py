"""The report of an eval run: what produced it (system, models, settings, prompts, git
commit, dataset) and its metrics, as JSON and as a table; and the thresholds that gate CI."""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import re
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.answer.templates import prompt_hashes
from rag.eval.metrics import QuestionScore, summarize, summarize_by_type
from rag.eval.paths import ROOT, portable_path
from rag.eval.questions import EvalDataError, EvalQuestion
from rag.eval.systems import System
from rag.settings import Settings

KS = (1, 3, 5)
REPORT_VERSION = 2


@dataclass
class QuestionRecord:
    score: QuestionScore
    row: dict[str, Any] = field(default_factory=dict)


_SECRET = re.compile(r"(^|_)(auth|api_key|key|password|secret|token)$", re.I)


def settings_record(settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in settings.flat().items():
        if isinstance(value, Path):
            value = portable_path(value)
        elif value is not None and _SECRET.search(name) and value != "not-needed":
            value = "***"
        out[name] = value
    return out


def git_state(root: Path = ROOT) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        return {
            "commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        }
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_report(
    system: System,
    settings: Settings,
    questions_path: Path,
    all_questions: Sequence[EvalQuestion],
    selected: Sequence[EvalQuestion],
    records: Sequence[QuestionRecord],
    *,
    limit: int | None,
    sample_seed: int,
    seconds: dict[str, float],
) -> dict[str, Any]:
    scores = [r.score for r in records]
    corpus = system.corpus
    notes = Counter(r.row["note"] for r in records if r.row["note"])
    return {
        "report_version": REPORT_VERSION,
        "run": {
            **system.describe(),
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "git": git_state(),
            "python": platform.python_version(),
            "settings": settings_record(settings),
            "prompts": prompt_hashes(),
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
        },
        "dataset": {
            "questions_file": portable_path(questions_path),
            "questions_sha256": file_sha256(questions_path),
            "docs": portable_path(settings.index.docs_dir),
            "documents": len(corpus.entries),
            "sentences": len(corpus.sentences),
            "questions_in_file": len(all_questions),
            "questions_run": len(selected),
            "limit": limit,
            "sample_seed": sample_seed if limit and limit < len(all_questions) else None,
            "formats": dict(Counter(q.format for q in selected)),
        },
        "metrics": summarize(scores, KS),
        "by_type": summarize_by_type(scores),
        "answer_notes": dict(notes.most_common()),
        "questions": [r.row for r in records],
    }


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_report(report: dict[str, Any]) -> str:
    run, data, metrics = report["run"], report["dataset"], report["metrics"]
    sample = (
        f" (sample of {data['questions_run']}, seed {data['sample_seed']})"
        if data.get("sample_seed") is not None
        else ""
    )
    lines = [
        f"system: {run['system']}   answerer: {run['answerer']}   "
        f"questions: {data['questions_file']}{sample}   docs: {data['docs']}",
        "",
        f"{'metric':<32} {'value':>8}",
        f"{'-' * 32} {'-' * 8}",
    ]
    lines += [f"{name:<32} {_fmt(value):>8}" for name, value in metrics.items()]
    by_type = report.get("by_type") or {}
    if by_type:
        columns = list(next(iter(by_type.values())))
        header = f"{'type':<20}" + "".join(f" {c.replace('retrieval_', ''):>10}" for c in columns)
        lines += ["", header, "-" * len(header)]
        for t, row in by_type.items():
            lines.append(f"{t:<20}" + "".join(f" {_fmt(row[c]):>10}" for c in columns))
    return "\n".join(lines)


def load_thresholds(path: Path) -> dict[str, dict[str, float]]:
    """{answerer: {metric: minimum}}; keys starting with "_" are comments."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalDataError(f"cannot read the thresholds file {path}: {exc}") from exc
    out: dict[str, dict[str, float]] = {}
    if not isinstance(data, dict):
        raise EvalDataError(f"{path}: expected a JSON object keyed by answerer")
    for answerer, minimums in data.items():
        if answerer.startswith("_"):
            continue
        if not isinstance(minimums, dict) or not all(
            isinstance(v, int | float) for k, v in minimums.items() if not k.startswith("_")
        ):
            raise EvalDataError(f"{path}: {answerer} must map metric names to minimum numbers")
        out[answerer] = {k: float(v) for k, v in minimums.items() if not k.startswith("_")}
    return out

"""The report of an eval run: what produced it (system, models, settings, prompts, git
commit, dataset) and its metrics, as JSON and as a table; the thresholds that gate CI, and the
gate's record (each threshold against its confidence bound, and against a previous report)."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import platform
import re
import subprocess
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.answer.templates import prompt_hashes
from rag.eval.bounds import (
    Z_ONE_SIDED_95,
    Part,
    confidence_label,
    gate_lines,
    paired_lines,
)
from rag.eval.metrics import (
    NOT_METRICS,
    CitationCounts,
    QuestionScore,
    question_parts,
    summarize,
    summarize_by_type,
)
from rag.eval.paths import ROOT, portable_path
from rag.eval.questions import EvalDataError, EvalQuestion
from rag.eval.systems import System
from rag.settings import Settings

log = logging.getLogger(__name__)

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


def _bounds_cells(bounds: Any, name: str) -> str:
    found = bounds.get(name) if isinstance(bounds, dict) else None
    if not isinstance(found, dict):
        return ""
    return f" {_fmt(found.get('lower')):>8} {_fmt(found.get('upper')):>8}"


def format_report(report: dict[str, Any]) -> str:
    run, data, metrics = report["run"], report["dataset"], report["metrics"]
    sample = (
        f" (sample of {data['questions_run']}, seed {data['sample_seed']})"
        if data.get("sample_seed") is not None
        else ""
    )
    bounds = metrics.get("bounds")
    z = metrics.get("bounds_z")
    lines = [
        f"system: {run['system']}   answerer: {run['answerer']}   "
        f"questions: {data['questions_file']}{sample}   docs: {data['docs']}",
        "",
        f"{'metric':<32} {'value':>8} {'lower':>8} {'upper':>8}",
        f"{'-' * 32} {'-' * 8} {'-' * 8} {'-' * 8}",
    ]
    lines += [
        f"{name:<32} {_fmt(value):>8}{_bounds_cells(bounds, name)}"
        for name, value in metrics.items()
        if name not in NOT_METRICS
    ]
    if bounds:
        lines.append(
            f"(lower, upper: each a one-sided {confidence_label(float(z or Z_ONE_SIDED_95))} "
            f"bound, z={z}; Wilson for counted shares, bootstrap over questions for means)"
        )
    by_type = report.get("by_type") or {}
    if by_type:
        columns = list(next(iter(by_type.values())))
        header = f"{'type':<20}" + "".join(f" {c.replace('retrieval_', ''):>10}" for c in columns)
        lines += ["", header, "-" * len(header)]
        for t, row in by_type.items():
            lines.append(f"{t:<20}" + "".join(f" {_fmt(row[c]):>10}" for c in columns))
    if report.get("gate"):
        lines += ["", *format_gate(report["gate"])]
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


# -- the gate -----------------------------------------------------------------------------------


def load_report(path: Path) -> dict[str, Any]:
    """A report written by `rag eval --out` (to compare a run with)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalDataError(f"cannot read the previous report {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise EvalDataError(f"{path}: expected a JSON object written by rag eval --out")
    return data


def score_from_row(row: Mapping[str, Any]) -> QuestionScore:
    """A question's score again from its record in a report. Reports written before the
    record held "citations_markers_supported" give no per-marker citation precision."""
    cited = [(int(n), str(sid)) for n, sid in row.get("citations") or []]
    markers_supported = row.get("citations_markers_supported")
    gold_cited = row.get("gold_cited")
    return QuestionScore(
        id=str(row["id"]),
        type=str(row.get("type") or ""),
        impossible=bool(row["impossible"]),
        refused=bool(row["refused"]),
        exact_match=float(row["exact_match"]),
        f1=float(row["f1"]),
        rank=None if row.get("rank") is None else int(row["rank"]),
        has_gold=bool(row.get("gold_sentence_ids")),
        citations=CitationCounts(
            sentences=len({sid for _, sid in cited}),
            supported=int(row.get("citations_supported") or 0),
            markers=len({n for n, _ in cited}) if markers_supported is not None else 0,
            markers_supported=int(markers_supported or 0),
            gold_cited=None if gold_cited is None else float(gold_cited),
        ),
        latency_s=float(row.get("latency_s") or 0.0),
        error=str(row.get("error") or ""),
        low_confidence=bool(row.get("low_confidence")),
        contains_gold=bool(row.get("contains_gold")),
    )


def report_parts(report: Mapping[str, Any], where: str) -> dict[str, dict[str, Part]]:
    """{question id: what it adds to each metric}, from a report's per-question records."""
    try:
        return {
            str(row["id"]): question_parts(score_from_row(row), KS) for row in report["questions"]
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise EvalDataError(
            f"{where}: not a rag eval report with per-question records ({exc!r})"
        ) from exc


PartsOf = Callable[[Mapping[str, Any], str], dict[str, dict[str, Part]]]


def previous_parts(
    path: str | None, checking: bool, parts_of: PartsOf = report_parts
) -> dict[str, dict[str, Part]] | None:
    """What each question (or turn) of the previous report, `--previous`, adds to each metric,
    read before the run so that a bad file fails at once; None without one."""
    if not path:
        return None
    if not checking:
        log.warning("--previous is read only with --check: ignored")
        return None
    return parts_of(load_report(Path(path)), path)


def gate_record(
    metrics: Mapping[str, Any],
    thresholds: Mapping[str, float],
    *,
    source: str,
    answerer: str,
    parts: Mapping[str, Mapping[str, Part]] | None = None,
    previous: Mapping[str, Mapping[str, Part]] | None = None,
    previous_source: str | None = None,
) -> dict[str, Any]:
    """Each threshold against its metric's confidence bound, and, with `previous` (a previous
    report's parts, `parts` this run's), each gated metric's paired change since then."""
    lines = gate_lines(metrics, thresholds)
    z = metrics.get("bounds_z")
    record: dict[str, Any] = {
        "thresholds": source,
        "answerer": answerer,
        "z": z,
        "lines": [line.record() for line in lines],
        "previous": None,
    }
    passed = all(line.ok for line in lines)
    if previous is not None and parts is not None:
        at = float(z) if isinstance(z, int | float) else Z_ONE_SIDED_95
        paired = paired_lines(parts, previous, thresholds, at)
        record["previous"] = {
            "report": previous_source,
            "paired_questions": len(set(parts) & set(previous)),
            "lines": [line.record() for line in paired],
        }
        passed = passed and all(line.ok for line in paired)
    record["passed"] = passed
    return record


def add_gate(
    report: dict[str, Any],
    thresholds: Mapping[str, Mapping[str, float]] | None,
    *,
    source: str,
    previous: Mapping[str, Mapping[str, Part]] | None,
    previous_source: str | None,
    parts_of: PartsOf = report_parts,
) -> None:
    """report["gate"]: the record of `gate_record` for the run's answerer, when the thresholds
    name it (and `gate_verdict` says so when they do not)."""
    answerer = report["run"]["answerer"]
    if thresholds is None or answerer not in thresholds:
        return
    report["gate"] = gate_record(
        report["metrics"],
        thresholds[answerer],
        source=source,
        answerer=answerer,
        parts=parts_of(report, "this run") if previous is not None else None,
        previous=previous,
        previous_source=previous_source,
    )


def gate_failures(gate: Mapping[str, Any]) -> list[str]:
    previous = (gate.get("previous") or {}).get("lines", [])
    return [line["line"] for line in [*gate["lines"], *previous] if not line["ok"]]


def format_gate(gate: Mapping[str, Any]) -> list[str]:
    z = gate.get("z")
    lines = [
        f"gate: {gate['thresholds']}, answerer {gate['answerer']}"
        + (f" (one-sided bounds at z={z})" if z else "")
    ]
    lines += [f"  {line['line']}" for line in gate["lines"]]
    previous = gate.get("previous")
    if previous:
        lines.append(
            f"against {previous['report']}: {previous['paired_questions']} paired questions"
        )
        lines += [f"  {line['line']}" for line in previous["lines"]]
    return lines


def gate_verdict(
    gate: Mapping[str, Any] | None, what: str, answerer: str, check: str, previous: str | None
) -> tuple[int, list[str]]:
    """The exit code (1: a threshold failed, or none for this answerer) and the lines saying
    why, for stderr."""
    if gate is None:
        return 1, [f"error: {check} has no thresholds for answerer {answerer}"]
    failures = gate_failures(gate)
    compared = bool(gate.get("previous"))
    if failures:
        against = check + (f" and {previous}" if compared else "")
        head = f"{what} FAILED for answerer {answerer}, against {against}:"
        return 1, [head, *(f"  {line}" for line in failures)]
    worse = ", none worse than the previous report" if compared else ""
    return 0, [f"{what} passed: {len(gate['lines'])} thresholds met for answerer {answerer}{worse}"]

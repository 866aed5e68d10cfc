"""The eval runner behind `rag eval`: loads a question set (ours or the SQuAD-style one), maps
its gold to corpus sentences, asks a system (our pipeline or the LlamaIndex baseline) every
question, scores the answers with rag.evaluation, and writes a report that records what
produced it (settings, model identities, prompt hashes, git commit, dataset).

Two question formats, told apart per line:

- ours (eval/questions.jsonl): id, question, answers, gold_sentences (verbatim sentence texts),
  is_impossible, doc_id, type, history (earlier user questions, oldest first);
- SQuAD-style (../shared/eval-data/squad2-dev-open15): id, question, answers, is_impossible,
  doc_id (names docs/<doc_id>.txt), gold_passage, gold_span ([start, end) of the passage in the
  doc), optionally answer_spans ([start, end) of each answer in the doc).

Gold is given by text or offsets, never by sentence id, so it survives re-segmentation.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import os
import platform
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag.corpus import Corpus
from rag.errors import RagError
from rag.evaluation import (
    QuestionScore,
    answer_scores,
    check_thresholds,
    citation_counts,
    first_hit_rank,
    normalize_answer,
    summarize,
    summarize_by_type,
)
from rag.prompts import prompt_hashes
from rag.settings import Settings
from rag.types import Answer, Sentence

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
KS = (1, 3, 5)
RANK_DEPTH = 10  # MRR is MRR@10
REPORT_VERSION = 1


class EvalDataError(RagError):
    """A question file or a thresholds file cannot be used."""


# -- question sets ----------------------------------------------------------------------------


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


def load_questions(path: Path) -> list[EvalQuestion]:
    """One JSON object per line; blank lines are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalDataError(f"cannot read the question file {path}: {exc.strerror}") from exc
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise EvalDataError(f"{where}: not valid JSON ({exc})") from exc
        questions.append(parse_question(data, where))
    if not questions:
        raise EvalDataError(f"the question file {path} holds no questions")
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


# -- gold: from text and offsets to sentence ids ----------------------------------------------

_WORD = re.compile(r"\w+")


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def same_sentence(gold: str, sentence: str) -> bool:
    """Gold text and a corpus sentence are the same sentence: one contains the other (after
    whitespace normalisation), or they share most of the shorter one's words."""
    g, s = _norm(gold), _norm(sentence)
    if not g or not s:
        return False
    if g in s or (s in g and len(_WORD.findall(s)) >= 3):
        return True
    gw, sw = set(_WORD.findall(g)), set(_WORD.findall(s))
    shorter = min(len(gw), len(sw))
    return shorter >= 4 and len(gw & sw) / shorter >= 0.8


@dataclass(frozen=True)
class Gold:
    # what retrieval should find and the answer should cite (for SQuAD, alternatives: the
    # sentences of the annotators' answer spans)
    sentence_ids: frozenset[str]
    support_ids: frozenset[str]  # sentences whose citation supports the answer
    doc_id: str | None  # the corpus document, when resolved


def resolve_doc(doc_id: str | None, corpus: Corpus) -> str | None:
    if not doc_id:
        return None
    for candidate in (doc_id, f"{doc_id}.txt", f"{doc_id}.md"):
        if candidate in corpus.entries:
            return candidate
    stems = [d for d in corpus.entries if Path(d).stem == doc_id]
    return stems[0] if len(stems) == 1 else None


def _overlapping(sentences: Sequence[Sentence], start: int, end: int) -> list[Sentence]:
    """Sentences lying mostly (at least half) within [start, end)."""
    out = []
    for s in sentences:
        overlap = min(end, s.end) - max(start, s.start)
        if overlap > 0 and overlap * 2 >= max(1, s.end - s.start):
            out.append(s)
    return out


def _touching(sentences: Sequence[Sentence], start: int, end: int) -> list[Sentence]:
    return [s for s in sentences if min(end, s.end) > max(start, s.start)]


def _contains_answer(sentence: str, answers: Sequence[str]) -> bool:
    text = f" {normalize_answer(sentence)} "
    return any(a and f" {a} " in text for a in (normalize_answer(x) for x in answers))


def gold_for(question: EvalQuestion, corpus: Corpus) -> Gold:
    """The question's gold and support sentence ids in this corpus (empty when unanswerable)."""
    doc_id = resolve_doc(question.doc_id, corpus)
    if question.impossible:
        return Gold(frozenset(), frozenset(), doc_id)
    doc_ids = [doc_id] if doc_id else list(corpus.entries)
    pool = [s for d in doc_ids for s in corpus.entries[d].sentences]
    gold: set[str] = set()
    passage: set[str] = set()
    if question.format == "rag":
        for text in question.gold_sentences:
            found = {s.id for s in pool if same_sentence(text, s.text)}
            if not found:
                log.warning("%s: gold sentence not found in the corpus: %.60s", question.id, text)
            gold |= found
    else:
        span = _passage_span(question, corpus, doc_id)
        if span is not None:
            doc_id, start, end = span
            sentences = corpus.entries[doc_id].sentences
            passage = {s.id for s in _overlapping(sentences, start, end)}
            in_passage = [s for s in sentences if s.id in passage]
            answer_spans = [(a, b) for a, b in question.answer_spans if start <= a < b <= end]
            for a, b in answer_spans:
                gold |= {s.id for s in _touching(in_passage, a, b)}
            if not gold:
                gold = {s.id for s in in_passage if _contains_answer(s.text, question.answers)}
            gold = gold or passage
        else:
            log.warning("%s: gold passage not found in the corpus", question.id)
    support = gold | passage
    if doc_id:
        support |= {
            s.id
            for s in corpus.entries[doc_id].sentences
            if _contains_answer(s.text, question.answers)
        }
    return Gold(frozenset(gold), frozenset(support), doc_id)


def _passage_span(
    question: EvalQuestion, corpus: Corpus, doc_id: str | None
) -> tuple[str, int, int] | None:
    """(doc, start, end) of the gold passage: gold_span when it fits, else found by text."""
    passage = question.gold_passage
    if doc_id and question.gold_span:
        start, end = question.gold_span
        text = corpus.entries[doc_id].document.text
        if 0 <= start < end <= len(text) and (
            passage is None or _norm(text[start:end]) == _norm(passage)
        ):
            return doc_id, start, end
    if passage:
        for d in [doc_id] if doc_id else list(corpus.entries):
            if d is None:
                continue
            at = corpus.entries[d].document.text.find(passage.strip())
            if at >= 0:
                return d, at, at + len(passage.strip())
    return None


# -- systems under test -----------------------------------------------------------------------


class System(Protocol):
    """What the runner measures: our pipeline, or the baseline (rag/baseline.py)."""

    name: str

    @property
    def answerer(self) -> str: ...

    @property
    def corpus(self) -> Corpus: ...

    def ingest(self) -> None: ...

    def warm_up(self) -> None:
        """Load lazily loaded models, so the first question's latency is not the load time."""
        ...

    def ranked(self, question: str, history: Sequence[str], depth: int) -> list[tuple[str, ...]]:
        """Retrieval units, best first, each as the sentence ids it holds."""
        ...

    def answer(self, question: str, history: Sequence[str]) -> Answer: ...

    def describe(self) -> dict[str, Any]:
        """Model identities and the settings that matter, for the report."""
        ...


class PipelineSystem:
    """Our pipeline (rag.pipeline.Pipeline) as the runner sees it."""

    name = "rag"

    def __init__(self, pipeline: Any):
        self.pipeline = pipeline

    @property
    def answerer(self) -> str:
        return str(self.pipeline.writer.name)

    @property
    def corpus(self) -> Corpus:
        corpus: Corpus = self.pipeline.index.corpus
        return corpus

    def ingest(self) -> None:
        report = self.pipeline.ingest()
        log.info("index: %s", report.summary())

    def warm_up(self) -> None:
        self.pipeline.retrieve("warm up")
        writer = self.pipeline.writer
        if writer.name != "extractive" and hasattr(writer, "llm"):
            _ = writer.llm  # loads the model

    def _standalone(self, question: str, history: Sequence[str]) -> str:
        from rag.conversation import standalone_question
        from rag.pipeline import check_question

        checked = check_question(question, self.pipeline.settings.max_question_chars)
        return standalone_question(checked, history)

    def ranked(self, question: str, history: Sequence[str], depth: int) -> list[tuple[str, ...]]:
        query = self._standalone(question, history)
        # The answer path keeps only evidence_k sentences; the ranking itself does not depend
        # on that cut, so a deeper copy of the same ranking is read with evidence_k raised.
        original = self.pipeline.settings
        self.pipeline.settings = original.model_copy(
            update={"evidence_k": max(depth, original.evidence_k)}
        )
        try:
            evidence = self.pipeline.retrieve(query)
        finally:
            self.pipeline.settings = original
        return [(e.sentence.id,) for e in evidence[:depth]]

    def answer(self, question: str, history: Sequence[str]) -> Answer:
        answer: Answer = self.pipeline.answer(question, history=list(history))
        return answer

    def describe(self) -> dict[str, Any]:
        settings: Settings = self.pipeline.settings
        writer = self.pipeline.writer
        out: dict[str, Any] = {
            "system": self.name,
            "answerer": self.answerer,
            "embedder": embedder_identity(settings, self.pipeline.embedder.name),
            "retrieval_unit": "sentence",
        }
        if writer.name != "extractive":
            out["llm"] = llm_identity(settings, writer)
        return out


def embedder_identity(settings: Settings, name: str) -> dict[str, Any]:
    """The embedder's name, and the package that carries its weights when it is the default."""
    from importlib.metadata import PackageNotFoundError, version

    from rag.models import EMBEDDING_PACKAGE

    identity: dict[str, Any] = {"name": name}
    if settings.embed_model_path is None:
        try:
            identity["package"] = f"{EMBEDDING_PACKAGE}=={version(EMBEDDING_PACKAGE)}"
        except PackageNotFoundError:
            identity["package"] = EMBEDDING_PACKAGE
    else:
        identity["path"] = portable_path(settings.embed_model_path)
    return identity


def llm_identity(settings: Settings, writer: Any = None) -> dict[str, Any]:
    from rag.models import GGUF_NAME, GGUF_SHA256

    identity: dict[str, Any] = {"backend": settings.llm_backend}
    try:
        name = getattr(writer, "identity", None)
        if name:
            identity["name"] = str(name)
    except Exception as exc:  # identity may need a model that failed to load
        log.debug("no LLM identity: %s", exc)
    if settings.llm_backend == "llama_cpp":
        if settings.llm_model_path is None:
            identity.update(gguf=GGUF_NAME, sha256=GGUF_SHA256)
        else:
            identity["gguf"] = Path(settings.llm_model_path).name
    else:
        identity["model"] = settings.llm_model
    return identity


def make_system(kind: str, settings: Settings) -> System:
    if kind == "baseline":
        from rag.baseline import BaselineSystem

        return BaselineSystem(settings)
    from rag.pipeline import Pipeline

    return PipelineSystem(Pipeline(settings))  # the writer as the CLI and the chat make it


# -- running ----------------------------------------------------------------------------------


@dataclass
class QuestionRecord:
    score: QuestionScore
    row: dict[str, Any] = field(default_factory=dict)


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
        "note": answer.note if answer else "",
        "citations": [[n, sid] for n, sid in cited],
        "gold_sentence_ids": sorted(gold.sentence_ids),
        "retrieved": [list(unit) for unit in ranked[: max(KS)]],
        "rank": rank,
        "exact_match": em,
        "f1": round(f1, 4),
        "citations_supported": counts.supported,
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


# -- the report -------------------------------------------------------------------------------


def portable_path(path: Path | str) -> str:
    """A path fit for a committed report: relative to the repository (or its parent folder,
    where ../shared lives), or to the home folder as ~, else just its name."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    p = Path(os.path.normpath(p))  # no resolve(): ../shared may be a link
    for base, prefix in ((ROOT, ""), (ROOT.parent, "../"), (Path.home(), "~/")):
        try:
            return prefix + p.relative_to(os.path.normpath(base)).as_posix()
        except ValueError:
            continue
    return p.name


_SECRET = re.compile(r"(^|_)(auth|api_key|key|password|secret|token)$", re.I)


def settings_record(settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in settings.model_dump().items():
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


def _file_sha256(path: Path) -> str:
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
            "questions_sha256": _file_sha256(questions_path),
            "docs": portable_path(settings.docs_dir),
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


# -- the command ------------------------------------------------------------------------------


def prepare_environment() -> None:
    """Before torch or llama_cpp are imported: no spinning OpenMP threads, no network."""
    for name, value in (
        ("OMP_WAIT_POLICY", "PASSIVE"),
        ("HF_HUB_OFFLINE", "1"),
        ("HF_HUB_DISABLE_TELEMETRY", "1"),
        ("ANONYMIZED_TELEMETRY", "False"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ):
        os.environ.setdefault(name, value)


def run_command(
    args: argparse.Namespace, make_settings: Callable[[argparse.Namespace], Settings]
) -> int:
    """`rag eval`: run, print the table, write the JSON report, check the thresholds."""
    prepare_environment()
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
    print(format_report(report))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"report written to {args.out}", file=sys.stderr)
    if thresholds is None:
        return 0
    answerer = report["run"]["answerer"]
    if answerer not in thresholds:
        print(f"error: {args.check} has no thresholds for answerer {answerer}", file=sys.stderr)
        return 1
    failures = check_thresholds(report["metrics"], thresholds[answerer])
    if failures:
        print(f"eval FAILED for answerer {answerer}, below {args.check}:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(
        f"eval passed: {len(thresholds[answerer])} thresholds met for answerer {answerer}",
        file=sys.stderr,
    )
    return 0

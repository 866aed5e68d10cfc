"""`rag ingest | ask | eval | serve`: parses arguments, builds Settings, turns errors into
one-line messages and exit codes. Logs go to stderr; stdout carries only results."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rag.errors import RagError
from rag.settings import Settings

log = logging.getLogger("rag")

EXIT_USAGE, EXIT_ERROR = 2, 1


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "docs", None):
        overrides["docs_dir"] = Path(args.docs)
    if getattr(args, "index", None):
        overrides["index_dir"] = Path(args.index)
    if getattr(args, "answerer", None):
        overrides["answerer"] = args.answerer
    return Settings(**overrides)


def _pipeline(settings: Settings) -> Any:
    from rag.pipeline import Pipeline

    return Pipeline(settings)


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag.embedding import make_embedder
    from rag.index import Index

    settings = _settings(args)
    report = Index(settings, make_embedder(settings)).sync()
    for skipped in report.skipped:
        print(f"skipped {skipped.doc_id}: {skipped.reason}", file=sys.stderr)
    print(report.summary())
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.pipeline import check_question

    settings = _settings(args)
    question = check_question(args.question, settings.max_question_chars)  # fail before loading
    pipeline = _pipeline(settings)
    report = pipeline.ingest()
    if report.embedded:
        log.info("index updated: %s", report.summary())
    answer = pipeline.answer(question)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    print(answer.text)
    for c in answer.citations:
        print(f"  [{c.n}] {c.doc_id} ({c.start}-{c.end}): {c.text}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.eval_runner import run_command

    return run_command(args, _settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    def docs_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--docs", help="docs folder (default: seeds/, or RAG_DOCS_DIR)")
        p.add_argument("--index", help="index folder (default: one per docs folder in the cache)")

    p = sub.add_parser("ingest", help="index the docs folder (incremental)")
    docs_args(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="answer a question from the documents")
    p.add_argument("question")
    docs_args(p)
    p.add_argument("--answerer", choices=["auto", "llm", "extractive"])
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser(
        "eval", help="measure retrieval, answers, citations and refusals on a question set"
    )
    docs_args(p)
    p.add_argument(
        "--questions",
        default="eval/questions.jsonl",
        help="JSONL question file, ours or SQuAD-style (default: eval/questions.jsonl); "
        "a docs/ folder beside it is used when --docs is not given",
    )
    p.add_argument("--answerer", choices=["auto", "llm", "extractive"])
    p.add_argument(
        "--system",
        choices=["rag", "baseline"],
        default="rag",
        help="our pipeline, or the stock LlamaIndex VectorStoreIndex + CitationQueryEngine",
    )
    p.add_argument("--out", help="write the JSON report here")
    p.add_argument("--check", metavar="THRESHOLDS", help="exit 1 when below these minimums")
    p.add_argument("--limit", type=int, help="run a deterministic sample of N questions")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of that sample (default 0)")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ValidationError as exc:
        fields = ", ".join(f"RAG_{'_'.join(map(str, e['loc'])).upper()}" for e in exc.errors())
        print(f"error: invalid setting {fields}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

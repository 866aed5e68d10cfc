"""`rag ingest | ask | chat | eval`: parses arguments, builds Settings, turns errors into one-line
messages and exit codes. Logs go to stderr; stdout carries only results.

Heavy libraries (torch, LlamaIndex, Chroma) are imported inside the commands that need them,
so a bad question or setting is reported at once.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rag  # noqa: F401  (the offline and thread environment, before torch or llama.cpp load)
from rag.errors import RagError, SettingsError
from rag.ingest.formats import SUFFIXES
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.engine import Engine
    from rag.ingest.report import SyncReport

log = logging.getLogger("rag")

EXIT_USAGE, EXIT_ERROR = 2, 1


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings with the command line's flags on top."""
    overrides: dict[str, Any] = {}
    if getattr(args, "docs", None):
        overrides["docs_dir"] = Path(args.docs)
    if getattr(args, "index", None):
        overrides["index_dir"] = Path(args.index)
    if getattr(args, "answerer", None):
        overrides["answerer"] = args.answerer
    if getattr(args, "condense", None):
        overrides["condense"] = args.condense
    return Settings.load(**overrides)


def _ingest_unless_busy(engine: Engine) -> SyncReport | None:
    """Sync before answering, unless another ingest is at it: then answer from the documents it
    has committed so far rather than wait (None)."""
    from rag.ingest.lock import IndexBusy

    try:
        return engine.ingest(wait=False)
    except IndexBusy as exc:
        log.warning("%s; answering from the documents indexed so far", exc)
        return None


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag.ingest.lock import IndexBusy
    from rag.ingest.store import Store
    from rag.models.embedder import make_embedder

    settings = settings_from(args)
    store = Store(settings.index, make_embedder(settings.index))
    try:
        try:
            report = store.sync(wait=False)
        except IndexBusy as exc:
            print(f"{exc}; waiting for it to finish (Ctrl-C to stop)", file=sys.stderr, flush=True)
            report = store.sync()
    except KeyboardInterrupt:
        print(
            "interrupted: the documents written so far are kept; run `rag ingest` again to "
            "resume where it stopped",
            file=sys.stderr,
        )
        return 130
    for skipped in report.skipped:
        print(f"skipped {skipped.doc_id}: {skipped.reason}", file=sys.stderr)
    print(report.summary())
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.question import check_question

    settings = settings_from(args)
    check_question(args.question, settings.retrieval.max_question_chars)  # fail before loading
    # Importing LlamaIndex and Chroma creates about a million objects that live as long as
    # the process: the cyclic collector's passes over them during the import are wasted (about
    # 0.5 s of a cold start), so it waits, and freeze() keeps them out of later passes.
    gc.disable()
    try:
        from rag.engine import Engine

        engine = Engine(settings)
        engine.store.connect()
    finally:
        gc.freeze()
        gc.enable()
    report = _ingest_unless_busy(engine)
    if report and (report.embedded or report.removed):
        log.info("index updated: %s", report.summary())
    else:
        args.read_only = True  # nothing was written: main() may skip the interpreter's teardown
    answer = engine.answer(args.question)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    from rag.terminal import print_answer

    print_answer(answer, "", sys.stdout)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from rag.conversation.chat import Conversation
    from rag.engine import Engine
    from rag.terminal import run

    engine = Engine(settings_from(args))
    report = _ingest_unless_busy(engine)
    if not engine.store.corpus.entries:
        raise RagError(
            f"no documents in {engine.settings.index.docs_dir}: add documents "
            f"({', '.join(SUFFIXES)})"
        )
    summary = f", {report.summary()}" if report else ""
    print(f"{len(engine.store.corpus.entries)} documents{summary}", file=sys.stderr)
    kind = engine.writers.default
    return run(lambda: Conversation(engine, prepare=True, writer=kind), input, sys.stdout)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.conversations:
        from rag.eval.conversations import run_command as run_conversations

        return run_conversations(args, settings_from)
    from rag.eval.runner import run_command

    return run_command(args, settings_from)


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
        "chat", help="a conversation in the terminal (/new starts over, Ctrl-D quits)"
    )
    docs_args(p)
    p.add_argument("--answerer", choices=["auto", "llm", "extractive"])
    p.set_defaults(func=cmd_chat)

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
    p.add_argument(
        "--conversations",
        metavar="FILE",
        help="run multi-turn conversations instead (e.g. eval/conversations.jsonl): "
        "turn_accuracy, rewrite_accuracy; --limit samples whole conversations",
    )
    p.add_argument(
        "--history",
        choices=["chat", "questions"],
        default="chat",
        help="with --conversations: each turn sees the conversation as the chat keeps it "
        "(questions and answers), or only the earlier questions, as /ask receives them",
    )
    p.add_argument("--answerer", choices=["auto", "llm", "extractive"])
    p.add_argument("--condense", choices=["auto", "llm", "rules"], help="who rewrites follow-ups")
    p.add_argument(
        "--system",
        choices=["rag", "baseline"],
        default="rag",
        help="our engine, or the stock LlamaIndex VectorStoreIndex + CitationQueryEngine",
    )
    p.add_argument("--out", help="write the JSON report here")
    p.add_argument(
        "--check",
        metavar="THRESHOLDS",
        help="exit 1 when a metric's one-sided 95%% confidence bound is below its minimum "
        "(the lower bound) or above its max: (the upper bound)",
    )
    p.add_argument(
        "--previous",
        metavar="REPORT",
        help="with --check: also exit 1 when a gated metric is worse than in this earlier "
        "--out report with 95%% confidence (paired bootstrap over the questions both hold)",
    )
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
        code = int(args.func(args))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    if getattr(args, "read_only", False) and argv is None:
        # A one-shot command that wrote nothing: tearing down the ~4,000 modules LlamaIndex,
        # Chroma and friends import takes about a second on a 2-core machine, for nothing.
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())

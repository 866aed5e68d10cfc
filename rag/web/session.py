"""The chat page's behaviour as plain methods over one Engine; gradio (rag/web/page.py) only
calls them. What varies per request, the answer writer and the number of passages, is passed
to `engine.stream` with each question: the engine, its settings and its writers are shared by
every visitor and never changed to serve one of them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rag.conversation.chat import Conversation
from rag.errors import BadQuestion, DocsError, RagError
from rag.ingest.documents import Skipped
from rag.ingest.lock import IndexBusy
from rag.ingest.pdf import PageView, render_page
from rag.models.llm import turnstile_of
from rag.types import Answer, Exchange
from rag.web.render import (
    SOURCES_PLACEHOLDER,
    DocRow,
    Turn,
    make_source,
    render_documents,
    render_header,
    render_source,
    turn_from_answer,
)
from rag.web.uploads import (
    Kind,
    UploadNames,
    UploadRejected,
    check_size,
    check_upload,
    shown,
    upload_notices,
)

if TYPE_CHECKING:
    from rag.answer.writers import AnswerWriter
    from rag.engine import Engine
    from rag.ingest.report import SyncReport
    from rag.ingest.store import Progress
    from rag.models.turnstile import Ticket

log = logging.getLogger(__name__)

WriterKind = Literal["llm", "extractive"]
Notice = tuple[Literal["ok", "warn", "error"], str]
GradioProgress = Callable[..., Any]  # gr.Progress: progress(fraction or (done, total), desc=...)

WAIT_STEP_S = 1.0  # a waiting chat request shows its place again (and can be closed) this often

UNEXPECTED = (
    "Sorry, something went wrong while answering. Please try again; if it keeps happening, "
    "the details are in the server log."
)


def friendly(exc: BaseException) -> str:
    """An error's message as a sentence for the page."""
    text = str(exc).strip() or "that did not work"
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _write_atomic(target: Path, raw: bytes) -> None:
    """Write beside the target under a hidden name (never indexed), then move it into place."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ChatSession:
    """The page's behaviour over one Engine. Its only state is the default answer writer and
    the files the last indexing skipped; a conversation lives in the page (gr.State)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.settings = engine.settings
        self.last_skipped: list[Skipped] = []
        self.default_writer: WriterKind = self._initial_writer()

    # -- answer writers -----------------------------------------------------------------------

    def _initial_writer(self) -> WriterKind:
        """The engine's default writer, or the extractive one when the LLM cannot be made."""
        if self.engine.writers.default != "llm":
            return "extractive"
        try:
            self.engine.writers.get("llm")
        except (ImportError, RagError) as exc:
            log.warning("the LLM answer writer is not available (%s); answering extractively", exc)
            return "extractive"
        return "llm"

    def ready_writer(self, kind: str) -> AnswerWriter:
        """The writer of this kind with its model loaded (RagError when it cannot be)."""
        return self.engine.writers.ready(kind)

    def warm_up(self) -> None:
        """Load the models now, so the first question does not wait for them; an LLM that
        cannot load leaves the extractive writer as the default."""
        self.engine.embedder.load()  # torch: sentences are embedded when questions need them
        if self.engine.reader is not None:
            self.engine.reader.load()
        try:
            self.ready_writer(self.default_writer)
            self.engine.condenser.llm()  # the follow-up rewrite's fixed prompt, evaluated now
        except RagError as exc:
            log.warning("cannot load the LLM (%s); answering extractively", exc)
            self.default_writer = "extractive"

    # -- index ----------------------------------------------------------------------------------

    def ingest(self, progress: Progress | None = None, wait: bool = True) -> SyncReport:
        """Sync the index with the docs folder; an empty folder leaves an empty chat. Another
        ingest holding the index (`rag ingest`) is waited for, or, without `wait`, IndexBusy."""
        report = self.engine.ingest(progress, allow_empty=True, wait=wait)
        self.last_skipped = list(report.skipped)
        return report

    def n_docs(self) -> int:
        return len(self.engine.store.corpus.entries)

    def doc_rows(self) -> list[DocRow]:
        entries = self.engine.store.corpus.entries
        return [
            DocRow(doc_id, len(e.document.text), len(e.sentences)) for doc_id, e in entries.items()
        ]

    def header(self) -> str:
        corpus = self.engine.store.corpus
        return render_header(len(corpus.entries), len(corpus.sentences))

    def documents_view(self) -> tuple[str, list[str], str]:
        """The documents list, the names that can be removed and the header, as they are now."""
        rows = self.doc_rows()
        return render_documents(rows, self.last_skipped), [r.doc_id for r in rows], self.header()

    # -- chat -----------------------------------------------------------------------------------

    def answer(
        self, question: str, history: Sequence[Exchange], kind: str, top_k: int
    ) -> Iterator[str | Answer]:
        """This tab's conversation (its turns so far, from the page's state) answering the
        question with this request's writer and number of passages."""
        conversation = Conversation(
            self.engine, history, prepare=True, writer=kind, top_k=max(1, min(50, int(top_k)))
        )
        return conversation.stream_answer(question)

    def llm_ticket(self, kind: str) -> Ticket | None:
        """A place in the line for the LLM (rag/models/turnstile.py) for a request that the
        LLM writer answers, where the LLM has such a line; None otherwise (the extractive
        writer never waits for the LLM). Leave it when done."""
        if kind != "llm":
            return None
        try:
            writer = self.engine.writers.get("llm")
            turnstile = turnstile_of(getattr(writer, "llm", None))
        except (ImportError, RagError):
            return None  # the answer itself will say what is wrong
        return turnstile.join() if turnstile is not None else None

    def typing(self, text: str, turns: list[Turn]) -> None:
        """The follow-up being typed in this tab, read ahead by the condense step so that
        little is left to read when it is sent (skipped while the LLM is busy)."""
        history = _history(turns)
        if history and text.strip():
            self.engine.condenser.prepare(history, text)

    def chat(
        self, question: str, turns: list[Turn], kind: str, top_k: int
    ) -> Iterator[tuple[list[Turn], str]]:
        """Yield the conversation as it grows: the question, while the LLM answers others
        its place in their line, the streamed draft, the final answer (which replaces the
        draft), or a friendly message instead of an error."""
        question = (question or "").strip()
        history = _history(turns)
        turns = [*turns, Turn(question=question)]
        yield list(turns), ""
        ticket: Ticket | None = None
        try:
            if not self.engine.store.corpus.entries:
                raise DocsError("no documents are indexed yet; add documents in the Documents tab")
            ticket = self.llm_ticket(kind)
            if ticket is not None and ticket.ahead():
                # a closed tab closes this generator at a yield: `finally` gives up the place
                while ahead := ticket.ahead():
                    turns[-1] = Turn(question, status="waiting", ahead=ahead)
                    yield list(turns), ""
                    ticket.wait(WAIT_STEP_S)
                turns[-1] = Turn(question=question)
                yield list(turns), ""
            draft = ""
            final: Answer | None = None
            for piece in self.answer(question, history, kind, top_k):
                if isinstance(piece, Answer):
                    final = piece  # the last item; its text replaces the streamed draft
                    continue
                draft += piece
                turns[-1] = Turn(question, draft, "streaming")
                yield list(turns), ""
            if ticket is not None:
                ticket.leave()  # the LLM is done with this request: the next one's turn
            if final is None:
                raise RuntimeError("the answer writer ended without an answer")
            docs = self.engine.store.corpus.entries
            sources = [
                make_source(c, docs[c.doc_id].document.text if c.doc_id in docs else None)
                for c in final.citations
            ]
            turns[-1] = turn_from_answer(question, final, sources)
        except BadQuestion as exc:
            turns[-1] = Turn(question, friendly(exc), "error", label="Please rephrase")
        except DocsError as exc:
            turns[-1] = Turn(question, friendly(exc), "error", label="No documents")
        except RagError as exc:
            turns[-1] = Turn(question=question, text=friendly(exc), status="error")
        except Exception:
            log.exception("answering %r failed", question)
            turns[-1] = Turn(question=question, text=UNEXPECTED, status="error")
        finally:
            if ticket is not None:
                ticket.leave()
        yield turns, "done"

    def source(self, turns: Sequence[Turn], turn_index: Any, n: Any) -> str:
        """The sources panel for citation [n] of turn `turn_index` (both from the browser)."""
        try:
            i, k = int(turn_index), int(n)
        except (TypeError, ValueError):
            return SOURCES_PLACEHOLDER
        if not 0 <= i < len(turns):
            return SOURCES_PLACEHOLDER
        return render_source(i, turns[i], k, self._page_view(turns[i], k))

    def _page_view(self, turn: Turn, n: int) -> PageView | None:
        """The PDF page of citation [n], drawn, while the file is still the one that was cited."""
        c = next((s.citation for s in turn.sources if s.citation.n == n and s.found), None)
        entry = self.engine.store.corpus.entries.get(c.doc_id) if c and c.page else None
        if c is None or entry is None or entry.document.text[c.start : c.end] != c.text:
            return None
        try:
            raw = (self.engine.store.docs_dir / c.doc_id).read_bytes()
            if hashlib.sha256(raw).hexdigest() != entry.document.content_hash:
                return None  # changed on disk since it was indexed: the text view stands
            return render_page(raw, entry.document.pages, c.start, c.end)
        except Exception:  # a page image is a nicety: the text view stands without it
            log.exception("drawing page %s of %s failed", c.page, c.doc_id)
            return None

    def api_answer(
        self, question: str, history: Sequence[str] = (), writer: str | None = None
    ) -> dict[str, object]:
        """The /ask API: the JSON of `rag ask --json`, from `writer` ("llm" or "extractive";
        None: the page's default). An LLM answer waits its turn (first come, first served);
        an extractive one waits for no LLM answer."""
        kind = self.engine.writers.check(writer or self.default_writer)
        ticket = self.llm_ticket(kind)
        try:
            if ticket is not None:
                ticket.wait_turn()
            answer = self.engine.answer(
                question, history, writer=kind, top_k=self.settings.retrieval.top_k
            )
        finally:
            if ticket is not None:
                ticket.leave()
        return answer.to_json()

    # -- documents ------------------------------------------------------------------------------

    def add_files(
        self, paths: Sequence[str], progress: GradioProgress | None = None
    ) -> list[Notice]:
        """Check each uploaded file, save the good ones into the docs folder, then re-index
        once. Names follow rag.web.uploads.UploadNames: one document per name whatever its
        capitals or accent encoding, never written through a link; many files are summed up."""
        docs_dir = self.settings.index.docs_dir.resolve()
        max_bytes = self.settings.web.max_upload_bytes
        names = UploadNames(docs_dir)
        results: list[tuple[Kind, str, str]] = []
        added: list[str] = []
        updated: list[str] = []
        for path in paths:
            name = Path(path).name
            try:
                doc_id, done = names.claim(name)
                check_size(doc_id, os.path.getsize(path), max_bytes)
                raw = Path(path).read_bytes()
                check_upload(name, raw, max_bytes, doc_id)
                # a new file beside the target, renamed over it: never written through a link
                existed = os.path.lexists(docs_dir / doc_id)
                _write_atomic(docs_dir / doc_id, raw)
                names.saved_as(name, doc_id)
                (updated if existed else added).append(doc_id)
                results.append(("ok", done, name))
            except UploadRejected as exc:
                log.warning("upload %r refused: %s", name, exc)
                results.append(("error", str(exc), name))
            except OSError as exc:
                log.warning("cannot save upload %r: %s", name, exc)
                text = f"{shown(name)} could not be saved: {exc.strerror or exc}."
                results.append(("error", text, name))
            finally:
                Path(path).unlink(missing_ok=True)  # gradio's temporary copy
        notices: list[Notice] = list(upload_notices(results, added, updated))
        if added or updated:
            notices.extend(self._reindex(progress))
        return notices

    def remove_file(
        self, doc_id: str | None, progress: GradioProgress | None = None
    ) -> list[Notice]:
        if not doc_id:
            return [("warn", "Choose a document to remove first.")]
        if doc_id not in self.engine.store.corpus.entries:
            return [("warn", f"{doc_id} is not in the index (any more).")]
        docs_dir = self.settings.index.docs_dir.resolve()
        target = (docs_dir / doc_id).resolve()
        if not target.is_relative_to(docs_dir):
            return [("error", f"{doc_id} is outside the documents folder.")]
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            return [("error", f"{doc_id} could not be removed: {exc.strerror or exc}.")]
        return [("ok", f"Removed {doc_id}."), *self._reindex(progress)]

    def rescan(self, progress: GradioProgress | None = None) -> list[Notice]:
        return self._reindex(progress)

    def _reindex(self, progress: GradioProgress | None) -> list[Notice]:
        def report_to(done: int, total: int, what: str) -> None:
            if progress is not None:
                progress((done, total), desc=f"Indexing: {what}", unit="texts")

        if progress is not None:
            progress(0, desc="Updating the index…")
        try:
            try:
                report = self.ingest(report_to if progress is not None else None, wait=False)
            except IndexBusy as exc:  # another ingest first: this one waits its turn
                if progress is not None:
                    progress(0, desc=f"Waiting: {exc}…")
                report = self.ingest(report_to if progress is not None else None)
        except RagError as exc:
            return [("error", f"The index could not be updated: {friendly(exc)}")]
        except Exception:
            log.exception("re-indexing failed")
            return [("error", "The index could not be updated; the details are in the server log.")]
        changed = len(report.added) + len(report.updated) + len(report.removed)
        if not changed and not report.rebuilt:
            text = "The index is up to date."
        else:
            text = (
                f"Index updated in {report.seconds:.1f} s: {len(report.added)} added, "
                f"{len(report.updated)} updated, {len(report.removed)} removed; "
                f"{report.embedded} sentences and passages embedded."
            )
        notices: list[Notice] = [("ok", text)]
        notices.extend(("warn", f"Skipped {s.doc_id}: {s.reason}.") for s in report.skipped)
        return notices


def _history(turns: Sequence[Turn]) -> list[Exchange]:
    """A tab's answered turns, as the conversation's memory."""
    return [
        Exchange(t.question, t.text, t.searched) for t in turns if t.status in ("answer", "refused")
    ]

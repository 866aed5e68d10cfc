"""The chat in the browser: `python app.py` indexes the docs folder (incrementally, with
progress) and serves the chat on 127.0.0.1:7860 (RAG_HOST / RAG_PORT, or --host / --port).

Builds the Settings and the pipeline, wires the page's events to them and renders answers with
rag.ui; it holds no retrieval or answering logic of its own. The chat is also an API endpoint,
"/ask", returning the JSON of `rag ask --json` (see the README for a gradio_client example).
"""

import argparse
import errno
import logging
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import rag  # noqa: F401  (sets the offline and thread environment before gradio/torch load)
from rag.answering import AnswerWriter, ExtractiveWriter, make_writer
from rag.documents import Skipped
from rag.errors import BadQuestion, DocsError, RagError
from rag.index import Progress, SyncReport
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Answer
from rag.ui import (
    CHAT_JS,
    CSS,
    SOURCES_JS,
    SOURCES_PLACEHOLDER,
    DocRow,
    Turn,
    UploadRejected,
    check_size,
    check_upload,
    exposure_problem,
    human_size,
    make_source,
    parse_auth,
    render_chat,
    render_documents,
    render_header,
    render_notice,
    render_source,
    safe_filename,
    turn_from_answer,
)

log = logging.getLogger("rag.app")

WriterKind = Literal["llm", "extractive"]
Notice = tuple[Literal["ok", "warn", "error"], str]
PIPELINE = "pipeline"  # concurrency group: everything that reads or changes the index

UNEXPECTED = (
    "Sorry, something went wrong while answering. Please try again; if it keeps happening, "
    "the details are in the server log."
)


def friendly(exc: BaseException) -> str:
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


class ChatApp:
    """The page's behaviour, as plain methods over one pipeline (gradio only calls them)."""

    def __init__(self, settings: Settings, pipeline: Pipeline | None = None):
        self.settings = settings
        self._writers: dict[str, AnswerWriter] = {}
        self._writers_lock = threading.Lock()
        if pipeline is None:
            pipeline = Pipeline(settings, writer=ExtractiveWriter())
        self.pipeline = pipeline
        self.last_skipped: list[Skipped] = []
        self.default_writer: WriterKind = self._initial_writer()

    # -- answer writers -----------------------------------------------------------------------

    def _initial_writer(self) -> WriterKind:
        if self.settings.answerer == "extractive":
            return "extractive"
        try:
            writer = make_writer(
                self.settings, self.pipeline.embedder, self.pipeline.current_corpus
            )
        except (ImportError, RagError) as exc:
            log.warning("the LLM answer writer is not available (%s); answering extractively", exc)
            return "extractive"
        kind: WriterKind = "extractive" if isinstance(writer, ExtractiveWriter) else "llm"
        self._writers[kind] = writer
        return kind

    def writer(self, kind: str) -> AnswerWriter:
        """One writer per kind, made on first use (the LLM loads a 1.1 GB model once)."""
        if kind not in ("llm", "extractive"):
            raise RagError(f"unknown answer writer {kind!r}; choose llm or extractive")
        with self._writers_lock:
            if kind not in self._writers:
                try:
                    self._writers[kind] = make_writer(
                        self.settings.model_copy(update={"answerer": kind}),
                        self.pipeline.embedder,
                        self.pipeline.current_corpus,
                    )
                except ImportError as exc:
                    raise RagError(
                        f"the LLM answer writer is not installed ({exc.name or exc}); "
                        "choose the extractive one in Settings"
                    ) from exc
            return self._writers[kind]

    def ready_writer(self, kind: str) -> AnswerWriter:
        """The writer, with its model loaded (the LLM loads lazily, on first use, otherwise)."""
        writer = self.writer(kind)
        if hasattr(writer, "llm"):
            _ = writer.llm  # loads (and, the first time, assembles and verifies) the model
        return writer

    def warm_up(self) -> None:
        """Load the models now, so the first question does not wait for them."""
        self.pipeline.embedder.embed(["warm up"])
        try:
            self.ready_writer(self.default_writer)
        except RagError as exc:
            log.warning("cannot load the LLM (%s); answering extractively", exc)
            self.default_writer = "extractive"

    # -- index ----------------------------------------------------------------------------------

    def ingest(self, progress: Progress | None = None) -> SyncReport:
        """Sync the index with the docs folder; an empty folder leaves an empty chat."""
        result = self.pipeline.ingest(progress, allow_empty=True)
        self.last_skipped = list(result.skipped)
        return result

    def doc_rows(self) -> list[DocRow]:
        entries = self.pipeline.index.corpus.entries
        return [
            DocRow(doc_id, len(e.document.text), len(e.sentences)) for doc_id, e in entries.items()
        ]

    def header(self) -> str:
        corpus = self.pipeline.index.corpus
        return render_header(len(corpus.entries), len(corpus.sentences))

    def documents_view(self) -> tuple[str, list[str], str]:
        """The documents list, the names that can be removed and the header, as they are now."""
        rows = self.doc_rows()
        return render_documents(rows, self.last_skipped), [r.doc_id for r in rows], self.header()

    # -- chat -----------------------------------------------------------------------------------

    def answer(
        self, question: str, history: Sequence[str], kind: str, top_k: int
    ) -> Iterator[str | Answer]:
        """The pipeline's stream with this session's writer and number of sources."""
        writer = self.writer(kind)
        self.pipeline.writer = writer
        return self.pipeline.stream(question, history, top_k=max(1, min(50, int(top_k))))

    def chat(
        self, question: str, turns: list[Turn], kind: str, top_k: int
    ) -> Iterator[tuple[list[Turn], str]]:
        """Yield the conversation as it grows: the question, the streamed draft, the final
        answer (which replaces the draft), or a friendly message instead of an error."""
        question = (question or "").strip()
        turns = [*turns, Turn(question=question)]
        history = [t.question for t in turns[:-1] if t.status in ("answer", "refused")]
        yield list(turns), ""
        try:
            if not self.pipeline.index.corpus.entries:
                raise DocsError(
                    "no documents are indexed yet; add .txt or .md files in the Documents tab"
                )
            draft = ""
            final: Answer | None = None
            for piece in self.answer(question, history, kind, top_k):
                if isinstance(piece, Answer):
                    final = piece  # the last item; its text replaces the streamed draft
                    continue
                draft += piece
                turns[-1] = Turn(question, draft, "streaming")
                yield list(turns), ""
            if final is None:
                raise RuntimeError("the answer writer ended without an answer")
            docs = self.pipeline.index.corpus.entries
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
        yield turns, "done"

    def source(self, turns: Sequence[Turn], turn_index: Any, n: Any) -> str:
        try:
            i, k = int(turn_index), int(n)
        except (TypeError, ValueError):
            return SOURCES_PLACEHOLDER
        if not 0 <= i < len(turns):
            return SOURCES_PLACEHOLDER
        return render_source(i, turns[i], k)

    def api_answer(self, question: str, history: Sequence[str] = ()) -> dict[str, object]:
        final: Answer | None = None
        for piece in self.answer(question, history, self.default_writer, self.settings.top_k):
            if isinstance(piece, Answer):
                final = piece
        if final is None:
            raise RuntimeError("the answer writer ended without an answer")
        return final.to_json()

    # -- documents ------------------------------------------------------------------------------

    def add_files(self, paths: Sequence[str], progress: Any = None) -> list[Notice]:
        """Check each uploaded file, save the good ones into the docs folder, then re-index."""
        notices: list[Notice] = []
        docs_dir = self.settings.docs_dir.resolve()
        saved: list[str] = []
        for path in paths:
            name = Path(path).name
            try:
                shown = safe_filename(name)
                check_size(shown, os.path.getsize(path), self.settings.max_upload_bytes)
                raw = Path(path).read_bytes()
                doc = check_upload(name, raw, self.settings.max_upload_bytes)
                target = (docs_dir / doc.doc_id).resolve()
                if target.parent != docs_dir:  # safe_filename makes this impossible; be sure
                    raise UploadRejected(f"{name}: not a plain file name")
                existed = target.exists()
                _write_atomic(target, raw)
                saved.append(doc.doc_id)
                renamed = f" (saved as {doc.doc_id})" if doc.doc_id != name else ""
                notices.append(("ok", f"{'Updated' if existed else 'Added'} {name}{renamed}."))
            except UploadRejected as exc:
                notices.append(("error", str(exc)))
            except OSError as exc:
                log.warning("cannot save upload %s: %s", name, exc)
                notices.append(("error", f"{name} could not be saved: {exc.strerror or exc}."))
            finally:
                Path(path).unlink(missing_ok=True)  # gradio's temporary copy
        if saved:
            notices.extend(self._reindex(progress))
        return notices

    def remove_file(self, doc_id: str | None, progress: Any = None) -> list[Notice]:
        if not doc_id:
            return [("warn", "Choose a document to remove first.")]
        if doc_id not in self.pipeline.index.corpus.entries:
            return [("warn", f"{doc_id} is not in the index (any more).")]
        docs_dir = self.settings.docs_dir.resolve()
        target = (docs_dir / doc_id).resolve()
        if not target.is_relative_to(docs_dir):
            return [("error", f"{doc_id} is outside the documents folder.")]
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            return [("error", f"{doc_id} could not be removed: {exc.strerror or exc}.")]
        return [("ok", f"Removed {doc_id}."), *self._reindex(progress)]

    def rescan(self, progress: Any = None) -> list[Notice]:
        return self._reindex(progress)

    def _reindex(self, progress: Any) -> list[Notice]:
        def report_to(done: int, total: int, what: str) -> None:
            progress((done, total), desc=f"Indexing: {what}", unit="texts")

        if progress is not None:
            progress(0, desc="Updating the index…")
        try:
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


# -- the page -------------------------------------------------------------------------------------


def build_app(settings: Settings, chat: ChatApp | None = None) -> Any:
    """The gradio Blocks of the chat page (not launched; see `serve`)."""
    import gradio as gr

    app = chat or ChatApp(settings)

    with gr.Blocks(
        title="Document Q&A", analytics_enabled=False, delete_cache=(3600, 3600)
    ) as demo:
        turns_state = gr.State([])
        asked = gr.State("")  # the question being answered
        header = gr.HTML(app.header(), elem_id="rc-header", js_on_load=None)
        with gr.Row(equal_height=False, elem_id="rc-main"):
            with gr.Column(scale=3, min_width=420):
                chat_view = gr.HTML(
                    render_chat([], len(app.pipeline.index.corpus.entries)),
                    elem_id="rc-chat",
                    js_on_load=CHAT_JS,
                    autoscroll=True,
                    max_height=640,
                    min_height=420,
                )
                with gr.Row(elem_id="rc-ask-row"):
                    question = gr.Textbox(
                        placeholder="Ask a question about your documents…",
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=6,
                        autofocus=True,
                        elem_id="rc-question",
                        submit_btn=False,
                    )
                    send = gr.Button(
                        "Ask", variant="primary", scale=1, min_width=80, elem_id="rc-send"
                    )
                    new_chat = gr.Button("New chat", scale=1, min_width=110, elem_id="rc-new")
            with gr.Column(scale=2, min_width=340), gr.Tabs(elem_id="rc-tabs") as tabs:
                with gr.Tab("Sources", id="sources", elem_id="rc-tab-sources"):
                    sources_view = gr.HTML(
                        SOURCES_PLACEHOLDER, elem_id="rc-sources", js_on_load=SOURCES_JS
                    )
                with gr.Tab("Documents", id="documents", elem_id="rc-tab-documents"):
                    docs_html, doc_names, _ = app.documents_view()
                    upload = gr.File(
                        label=(
                            "Add documents: .txt or .md, up to "
                            f"{human_size(settings.max_upload_bytes)} each"
                        ),
                        file_count="multiple",
                        type="filepath",
                        height=120,
                        elem_id="rc-upload",
                    )
                    notice = gr.HTML("", elem_id="rc-notice", js_on_load=None)
                    docs_view = gr.HTML(docs_html, elem_id="rc-docs", js_on_load=None)
                    remove_choice = gr.Dropdown(
                        choices=doc_names,
                        value=None,
                        label="Remove a document",
                        info="The file is deleted from the documents folder and the index.",
                        elem_id="rc-remove-choice",
                    )
                    with gr.Row(elem_id="rc-doc-actions"):
                        remove = gr.Button(
                            "Remove…", variant="stop", size="sm", min_width=100, elem_id="rc-remove"
                        )
                        rescan = gr.Button(
                            "Re-scan the folder", size="sm", min_width=140, elem_id="rc-rescan"
                        )
                    with gr.Column(visible=False, elem_id="rc-confirm") as confirm_row:
                        confirm_text = gr.HTML("", js_on_load=None)
                        with gr.Row():
                            confirm = gr.Button(
                                "Yes, remove it",
                                variant="stop",
                                size="sm",
                                elem_id="rc-confirm-yes",
                            )
                            cancel = gr.Button("Cancel", size="sm", elem_id="rc-confirm-no")
                with gr.Tab("Settings", id="settings", elem_id="rc-tab-settings"):
                    writer_choice = gr.Radio(
                        choices=[
                            ("Local LLM: writes the answer, every claim verified", "llm"),
                            ("Extractive: quotes the best source sentences", "extractive"),
                        ],
                        value=app.default_writer,
                        label="Answer writer",
                        elem_id="rc-writer",
                    )
                    top_k = gr.Slider(
                        minimum=1,
                        maximum=20,
                        step=1,
                        value=settings.top_k,
                        label="Passages to retrieve",
                        info="More passages find more, but may bring in weaker evidence.",
                        elem_id="rc-topk",
                    )
                    writer_note = gr.HTML("", elem_id="rc-writer-note", js_on_load=None)

        def n_docs() -> int:
            return len(app.pipeline.index.corpus.entries)

        # -- chat: stream the answer; the input is locked while it is written
        # -- chat: the question shows at once (not queued); the answer streams in after it,
        # queued with everything else that uses the index; the input is locked meanwhile
        def on_question(q: str, turns: list[Turn]) -> tuple[Any, ...]:
            q = (q or "").strip()
            if not q:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), ""
            current = [*turns, Turn(question=q)]
            return (
                render_chat(current, n_docs()),
                current,
                gr.Textbox(value="", interactive=False),
                gr.Button(interactive=False),
                q,
            )

        def on_answer(q: str, turns: list[Turn], kind: str, k: float) -> Iterator[tuple[Any, ...]]:
            if not q:
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
                return
            earlier = turns[:-1] if turns and turns[-1].status == "pending" else turns
            for current, phase in app.chat(q, earlier, kind, int(k)):
                done = phase == "done"
                yield (
                    render_chat(current, n_docs()),
                    current,
                    gr.Textbox(interactive=True) if done else gr.skip(),
                    gr.Button(interactive=True) if done else gr.skip(),
                )

        for trigger in (question.submit, send.click):
            trigger(
                on_question,
                [question, turns_state],
                [chat_view, turns_state, question, send, asked],
                queue=False,
                trigger_mode="once",
                api_visibility="private",
            ).then(
                on_answer,
                [asked, turns_state, writer_choice, top_k],
                [chat_view, turns_state, question, send],
                show_progress="hidden",
                concurrency_id=PIPELINE,
                concurrency_limit=1,
                api_visibility="private",
            )

        def on_new_chat() -> tuple[str, list[Turn], str]:
            return render_chat([], n_docs()), [], SOURCES_PLACEHOLDER

        new_chat.click(
            on_new_chat, None, [chat_view, turns_state, sources_view], api_visibility="private"
        )

        # -- citations: a click on [n] (or a source chip) shows its sentence in its paragraph
        def on_cite(turns: list[Turn], evt: gr.EventData) -> tuple[str, Any]:
            data = evt._data if isinstance(evt._data, dict) else {}
            return app.source(turns, data.get("turn"), data.get("n")), gr.Tabs(selected="sources")

        chat_view.cite(on_cite, turns_state, [sources_view, tabs], api_visibility="private")
        sources_view.cite(on_cite, turns_state, [sources_view, tabs], api_visibility="private")

        # -- documents: upload, remove (after a confirmation), re-scan; each re-indexes
        docs_outputs = [notice, docs_view, remove_choice, header, chat_view]

        def after(notices: list[Notice], turns: list[Turn]) -> tuple[Any, ...]:
            html, names, head = app.documents_view()
            choices = gr.Dropdown(choices=names, value=None)
            chat_html = gr.skip() if turns else render_chat([], n_docs())
            return render_notice(notices), html, choices, head, chat_html

        def on_upload(
            files: list[str] | None,
            turns: list[Turn],
            progress: Any = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, ...]:
            notices = app.add_files(files or [], progress)
            return (*after(notices, turns), None)

        upload.upload(
            on_upload,
            [upload, turns_state],
            [*docs_outputs, upload],
            concurrency_id=PIPELINE,
            concurrency_limit=1,
            show_progress_on=[docs_view],
            api_visibility="private",
        )

        def on_remove_request(doc_id: str | None) -> tuple[Any, Any, Any]:
            if not doc_id:
                warn = render_notice([("warn", "Choose a document to remove first.")])
                return gr.Column(visible=False), gr.skip(), warn
            ask = f"Remove {doc_id} from the documents folder and the index?"
            return gr.Column(visible=True), render_notice([("warn", ask)]), ""

        remove.click(
            on_remove_request,
            remove_choice,
            [confirm_row, confirm_text, notice],
            api_visibility="private",
        )
        cancel.click(lambda: gr.Column(visible=False), None, confirm_row, api_visibility="private")

        def on_remove(
            doc_id: str | None,
            turns: list[Turn],
            progress: Any = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, ...]:
            notices = app.remove_file(doc_id, progress)
            return (*after(notices, turns), gr.Column(visible=False))

        confirm.click(
            on_remove,
            [remove_choice, turns_state],
            [*docs_outputs, confirm_row],
            concurrency_id=PIPELINE,
            concurrency_limit=1,
            show_progress_on=[docs_view],
            api_visibility="private",
        )

        def on_rescan(
            turns: list[Turn],
            progress: Any = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, ...]:
            return after(app.rescan(progress), turns)

        rescan.click(
            on_rescan,
            turns_state,
            docs_outputs,
            concurrency_id=PIPELINE,
            concurrency_limit=1,
            show_progress_on=[docs_view],
            api_visibility="private",
        )

        # -- settings: switching to the LLM loads it once; if it can't, say so and stay put
        def on_writer(
            kind: str,
            progress: Any = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, str]:
            try:
                if kind == "llm":
                    progress(0, desc="Loading the language model…")
                app.ready_writer(kind)
            except RagError as exc:
                return gr.Radio(value="extractive"), render_notice([("error", friendly(exc))])
            except Exception:
                log.exception("cannot start the %s answer writer", kind)
                return gr.Radio(value="extractive"), render_notice(
                    [("error", "That answer writer could not be started; see the server log.")]
                )
            label = "the local LLM" if kind == "llm" else "the extractive writer"
            return gr.skip(), render_notice([("ok", f"Answers now come from {label}.")])

        writer_choice.input(
            on_writer,
            writer_choice,
            [writer_choice, writer_note],
            concurrency_id=PIPELINE,
            concurrency_limit=1,
            show_progress_on=[writer_note],
            api_visibility="private",
        )

        # -- every page load shows the documents as they are now
        def on_load() -> tuple[Any, ...]:
            html, names, head = app.documents_view()
            return html, gr.Dropdown(choices=names, value=None), head, render_chat([], n_docs())

        demo.load(
            on_load, None, [docs_view, remove_choice, header, chat_view], api_visibility="private"
        )

        # -- the API: gradio_client.Client(url).predict("question", api_name="/ask")
        def ask(question: str, history: list[str] | None = None) -> dict[str, Any]:
            """Answer a question from the documents. `history` holds the earlier questions of
            the conversation, oldest first, so a follow-up can lean on them. Returns the JSON
            of `rag ask --json`: question, answer, refused, citations."""
            try:
                return app.api_answer(question, history or [])
            except RagError as exc:
                raise gr.Error(friendly(exc), print_exception=False) from exc
            except Exception as exc:
                log.exception("API question %r failed", question)
                raise gr.Error(UNEXPECTED, print_exception=False) from exc

        gr.api(  # type: ignore[attr-defined]
            ask, api_name="ask", concurrency_id=PIPELINE, concurrency_limit=1
        )

    return demo


def serve(demo: Any, settings: Settings, auth: tuple[str, str] | None, block: bool = True) -> Any:
    import gradio as gr

    theme = gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate")
    return demo.queue(default_concurrency_limit=4).launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=auth,
        auth_message="Sign in to use the document chat.",
        share=False,
        ssr_mode=False,
        show_error=False,
        quiet=True,
        footer_links=["api", "settings"],
        # add_files refuses files over the limit with a clear message; this only stops abuse
        max_file_size=max(10 * settings.max_upload_bytes, 20_000_000),
        prevent_thread_lock=not block,
        theme=theme,
        css=CSS,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
    )


# -- the command ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python app.py", description="Serve the document chat in the browser."
    )
    parser.add_argument("--docs", help="documents folder (default: seeds/, or RAG_DOCS_DIR)")
    parser.add_argument("--host", help="address to bind (default: 127.0.0.1, or RAG_HOST)")
    parser.add_argument("--port", type=int, help="port (default: 7860, or RAG_PORT)")
    parser.add_argument("--answerer", choices=["auto", "llm", "extractive"])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more to stderr")
    return parser.parse_args(argv)


def _progress_printer() -> Any:
    """Indexing progress on stderr (tqdm draws its own bar on a terminal; this covers logs)."""
    if sys.stderr.isatty():
        return None
    last = [-1]

    def show(done: int, total: int, what: str) -> None:
        step = int(10 * done / max(total, 1))
        if step != last[0]:
            last[0] = step
            print(f"  {what}: {done}/{total}", file=sys.stderr, flush=True)

    return show


def port_problem(host: str, port: int) -> str:
    """Why the chat cannot listen on host:port, or "" (checked before the slow start-up)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} is already in use; pick another with RAG_PORT=... or --port ..."
                )
            return f"cannot listen on {host}:{port} ({exc.strerror or exc})"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    from pydantic import ValidationError

    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    overrides: dict[str, Any] = {}
    for name, key in (("docs", "docs_dir"), ("host", "host"), ("port", "port")):
        if getattr(args, name) is not None:
            overrides[key] = getattr(args, name)
    if args.answerer:
        overrides["answerer"] = args.answerer
    try:
        settings = Settings(**overrides)
        auth = parse_auth(settings.auth)
    except ValidationError as exc:
        fields = ", ".join(f"RAG_{'_'.join(map(str, e['loc'])).upper()}" for e in exc.errors())
        print(f"error: invalid setting {fields}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problem = exposure_problem(settings.host, auth, settings.allow_unauthenticated)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    problem = port_problem(settings.host, settings.port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    try:
        print(f"Indexing {settings.docs_dir} …", file=sys.stderr, flush=True)
        chat = ChatApp(settings)
        report = chat.ingest(_progress_printer())
        for skipped in report.skipped:
            print(f"  skipped {skipped.doc_id}: {skipped.reason}", file=sys.stderr)
        print(f"  {report.summary()}", file=sys.stderr, flush=True)
        if not chat.pipeline.index.corpus.entries:
            print(
                f"  {settings.docs_dir} holds no documents yet; add some from the page",
                file=sys.stderr,
            )
        print("Loading the models …", file=sys.stderr, flush=True)
        chat.warm_up()
        demo = build_app(settings, chat)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    url_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    try:
        serve(demo, settings, auth, block=False)
    except OSError as exc:  # taken in the meantime
        print(f"error: cannot serve on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    print(f"Chat ready at http://{url_host}:{settings.port}/  (Ctrl+C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("Stopping.", file=sys.stderr)
    finally:
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The chat page: the gradio Blocks and the wiring of its events to a ChatSession. Layout and
wiring only; what each event does is a ChatSession method, and every piece of HTML comes from
rag.web.render. The page's style and scripts are files under static/, read when the page is
built.

Answers (the chat's and the /ask API's) share one concurrency id with a generous limit: an
extractive answer runs at once, beside others and beside LLM answers, which take turns at the
model in the order they came (rag/models/turnstile.py; the chat shows a waiting question its
place). An answer reads the index view it started with, so it needs no lock against a sync.
Changes to the index (upload, removal, re-scan) take turns among themselves, and so does
loading an answer writer. The chat is also an API endpoint, "/ask" (see the README for a
gradio_client example).

No `from __future__ import annotations` here: gradio reads the event functions' annotations
(gr.EventData, the /ask parameters) at run time.
"""

import logging
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from rag.errors import RagError
from rag.ingest.formats import SUFFIXES
from rag.web.render import (
    SOURCES_PLACEHOLDER,
    Turn,
    human_size,
    render_chat,
    render_notice,
)
from rag.web.session import UNEXPECTED, ChatSession, Notice, friendly

log = logging.getLogger(__name__)

ANSWERS = "answers"  # concurrency id: the chat's answers and /ask
ANSWERS_AT_ONCE = 32  # beyond this, gradio's queue holds them (the server's threads: 64)
INDEX = "index"  # uploads, removals, re-scans: one at a time
WRITER = "writer"  # loading an answer writer: one at a time


@cache
def static_text(name: str) -> str:
    """A file of rag/web/static/ (chat.css, chat.js, sources.js), as text."""
    return resources.files("rag.web").joinpath("static", name).read_text(encoding="utf-8")


def build_app(session: ChatSession) -> Any:
    """The gradio Blocks of the chat page over `session` (not launched: see
    rag.web.server.serve)."""
    import gradio as gr

    settings = session.settings

    with gr.Blocks(
        title="Document Q&A", analytics_enabled=False, delete_cache=(3600, 3600)
    ) as demo:
        turns_state = gr.State([])
        asked = gr.State("")  # the question being answered
        header = gr.HTML(session.header(), elem_id="rc-header", js_on_load=None)
        with gr.Row(equal_height=False, elem_id="rc-main"):
            with gr.Column(scale=3, min_width=420):
                chat_view = gr.HTML(
                    render_chat([], session.n_docs()),
                    elem_id="rc-chat",
                    js_on_load=static_text("chat.js"),
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
                        SOURCES_PLACEHOLDER,
                        elem_id="rc-sources",
                        js_on_load=static_text("sources.js"),
                    )
                with gr.Tab("Documents", id="documents", elem_id="rc-tab-documents"):
                    docs_html, doc_names, _ = session.documents_view()
                    upload = gr.File(
                        label=(
                            "Add documents: .txt, .md, .html, .pdf or .docx, up to "
                            f"{human_size(settings.web.max_upload_bytes)} each"
                        ),
                        file_count="multiple",
                        file_types=list(SUFFIXES),
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
                        value=session.default_writer,
                        label="Answer writer",
                        elem_id="rc-writer",
                    )
                    top_k = gr.Slider(
                        minimum=1,
                        maximum=20,
                        step=1,
                        value=settings.retrieval.top_k,
                        label="Passages to retrieve",
                        info="More passages find more, but may bring in weaker evidence.",
                        elem_id="rc-topk",
                    )
                    writer_note = gr.HTML("", elem_id="rc-writer-note", js_on_load=None)

        # -- chat: the question shows at once (not queued); the answer streams in after it,
        # beside other answers (an LLM answer shows its place in the LLM's line while it
        # waits); the input is locked meanwhile
        def on_question(q: str, turns: list[Turn]) -> tuple[Any, ...]:
            q = (q or "").strip()
            if not q:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), ""
            current = [*turns, Turn(question=q)]
            return (
                render_chat(current, session.n_docs()),
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
            for current, phase in session.chat(q, earlier, kind, int(k)):
                done = phase == "done"
                yield (
                    render_chat(current, session.n_docs()),
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
                concurrency_id=ANSWERS,
                concurrency_limit=ANSWERS_AT_ONCE,
                api_visibility="private",
            )

        # the follow-up is read ahead as it is typed (see Condenser.prepare)
        question.input(
            session.typing,
            [question, turns_state],
            None,
            queue=False,
            trigger_mode="always_last",
            show_progress="hidden",
            api_visibility="private",
        )

        def on_new_chat() -> tuple[str, list[Turn], str]:
            return render_chat([], session.n_docs()), [], SOURCES_PLACEHOLDER

        new_chat.click(
            on_new_chat, None, [chat_view, turns_state, sources_view], api_visibility="private"
        )

        # -- citations: a click on [n] (or a source chip) shows its sentence in its paragraph
        def on_cite(turns: list[Turn], evt: gr.EventData) -> tuple[str, Any]:
            data = evt._data if isinstance(evt._data, dict) else {}
            return session.source(turns, data.get("turn"), data.get("n")), gr.Tabs(
                selected="sources"
            )

        chat_view.cite(on_cite, turns_state, [sources_view, tabs], api_visibility="private")
        sources_view.cite(on_cite, turns_state, [sources_view, tabs], api_visibility="private")

        # -- documents: upload, remove (after a confirmation), re-scan; each re-indexes
        docs_outputs = [notice, docs_view, remove_choice, header, chat_view]

        def after(notices: list[Notice], turns: list[Turn]) -> tuple[Any, ...]:
            html, names, head = session.documents_view()
            choices = gr.Dropdown(choices=names, value=None)
            chat_html = gr.skip() if turns else render_chat([], session.n_docs())
            return render_notice(notices), html, choices, head, chat_html

        def on_upload(
            files: list[str] | None,
            turns: list[Turn],
            progress: Any = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, ...]:
            notices = session.add_files(files or [], progress)
            return (*after(notices, turns), None)

        upload.upload(
            on_upload,
            [upload, turns_state],
            [*docs_outputs, upload],
            concurrency_id=INDEX,
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
            notices = session.remove_file(doc_id, progress)
            return (*after(notices, turns), gr.Column(visible=False))

        confirm.click(
            on_remove,
            [remove_choice, turns_state],
            [*docs_outputs, confirm_row],
            concurrency_id=INDEX,
            concurrency_limit=1,
            show_progress_on=[docs_view],
            api_visibility="private",
        )

        def on_rescan(
            turns: list[Turn],
            progress: Any = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, ...]:
            return after(session.rescan(progress), turns)

        rescan.click(
            on_rescan,
            turns_state,
            docs_outputs,
            concurrency_id=INDEX,
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
                session.ready_writer(kind)
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
            concurrency_id=WRITER,
            concurrency_limit=1,
            show_progress_on=[writer_note],
            api_visibility="private",
        )

        # -- every page load shows the documents as they are now
        def on_load() -> tuple[Any, ...]:
            html, names, head = session.documents_view()
            return (
                html,
                gr.Dropdown(choices=names, value=None),
                head,
                render_chat([], session.n_docs()),
            )

        demo.load(
            on_load, None, [docs_view, remove_choice, header, chat_view], api_visibility="private"
        )

        # -- the API: gradio_client.Client(url).predict("question", api_name="/ask")
        def ask(
            question: str, history: list[str] | None = None, writer: str | None = None
        ) -> dict[str, Any]:
            """Answer a question from the documents. `history` holds the earlier questions of
            the conversation, oldest first: a follow-up that leans on them is rewritten to
            stand alone before the search. `writer` is "llm" or "extractive" (default: the
            app's). Returns the JSON of `rag ask --json`: question, searched (what was
            searched for), answer, refused, low_confidence, decision, reason, citations."""
            try:
                return session.api_answer(question, history or [], writer or None)
            except RagError as exc:
                raise gr.Error(friendly(exc), print_exception=False) from exc
            except Exception as exc:
                log.exception("API question %r failed", question)
                raise gr.Error(UNEXPECTED, print_exception=False) from exc

        gr.api(  # type: ignore[attr-defined]
            ask, api_name="ask", concurrency_id=ANSWERS, concurrency_limit=ANSWERS_AT_ONCE
        )

    return demo

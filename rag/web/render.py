"""Pure HTML rendering for the chat page (rag/web/page.py): escaping, the conversation, the
sources panel, the documents list, notices and the header. No gradio, no engine.

Everything that reaches the page from a document, a question or an answer goes through `esc`,
so a document holding `<script>` or `<img onerror=...>` shows as text and never runs.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rag.answer.citations import MARKER
from rag.answer.writers import LOW_CONFIDENCE
from rag.ingest.documents import Skipped
from rag.ingest.pdf import PageView
from rag.types import Answer, Citation

Status = Literal["pending", "waiting", "streaming", "answer", "refused", "error"]

CONTEXT_CHARS = 600  # paragraph text kept on each side of a cited sentence
LONG_PARAGRAPH = 1500  # a blank-line paragraph longer than this falls back to its line


# -- escaping -----------------------------------------------------------------------------------

_EXTRA = str.maketrans({"`": "&#96;", "$": "&#36;", "{": "&#123;", "}": "&#125;"})


def esc(text: str) -> str:
    """HTML-escape text for element content and quoted attributes.

    Beyond html.escape, the characters of JS template literals and Handlebars (` $ { }) become
    entities too: gr.HTML evaluates its *template* that way, and this keeps document text inert
    even if a future template put the value through it.
    """
    return html.escape(text, quote=True).translate(_EXTRA)


# -- the conversation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A citation as shown in the sources panel: the cited sentence with the text of its
    paragraph around it, captured when the answer was given (so it stays right if the document
    changes later)."""

    citation: Citation
    before: str = ""
    after: str = ""
    found: bool = True  # False: the document no longer held the sentence when answering


@dataclass
class Turn:
    question: str
    text: str = ""
    status: Status = "pending"
    sources: list[Source] = field(default_factory=list)
    answerer: str = ""
    label: str = ""  # the heading of an error message
    searched: str = ""  # the follow-up as rewritten to stand alone, when it was
    low_confidence: bool = False  # answered, though the evidence may not answer the question
    ahead: int = 0  # waiting: how many questions the LLM answers before this one


def paragraph_context(doc_text: str, start: int, end: int) -> tuple[str, str]:
    """The text of the paragraph around doc_text[start:end], before and after it.

    A paragraph ends at a blank line; when that gives a very long block (a file without blank
    lines), at a line break. Each side is cut to CONTEXT_CHARS at a word boundary, with "…".
    """
    lo = doc_text.rfind("\n\n", 0, start)
    lo = 0 if lo < 0 else lo + 2
    hi = doc_text.find("\n\n", end)
    hi = len(doc_text) if hi < 0 else hi
    if hi - lo > LONG_PARAGRAPH:
        lo = doc_text.rfind("\n", 0, start) + 1
        nl = doc_text.find("\n", end)
        hi = len(doc_text) if nl < 0 else nl
    before, after = doc_text[lo:start].lstrip(), doc_text[end:hi].rstrip()
    if len(before) > CONTEXT_CHARS:
        cut = before[-CONTEXT_CHARS:]
        before = "…" + cut[cut.find(" ") + 1 :] if " " in cut else "…" + cut
    if len(after) > CONTEXT_CHARS:
        cut = after[:CONTEXT_CHARS]
        after = (cut[: cut.rfind(" ")] if " " in cut else cut) + "…"
    return before, after


def make_source(citation: Citation, doc_text: str | None) -> Source:
    """A Source for a citation, with its paragraph from the document text when it still matches."""
    c = citation
    if doc_text is None or doc_text[c.start : c.end] != c.text:
        return Source(c, found=False)
    before, after = paragraph_context(doc_text, c.start, c.end)
    return Source(c, before, after)


def turn_from_answer(question: str, answer: Answer, sources: Sequence[Source]) -> Turn:
    return Turn(
        question=question,
        text=answer.text,
        status="refused" if answer.refused else "answer",
        sources=list(sources),
        answerer=answer.answerer,
        searched=answer.searched,
        low_confidence=answer.low_confidence,
    )


def render_text(text: str, turn: int, sources: Sequence[Source], clickable: bool) -> str:
    """Answer text, escaped, with each [n] marker as a button when it names a source."""
    by_n = {s.citation.n: s.citation for s in sources}
    out: list[str] = []
    pos = 0
    for match in MARKER.finditer(text):
        out.append(esc(text[pos : match.start()]))
        n = int(match.group(1))
        cited = by_n.get(n)
        if clickable and cited is not None:
            out.append(
                f'<button type="button" class="rc-cite" data-turn="{turn}" data-n="{n}" '
                f'title="Show source [{n}]: {esc(cited.doc_id)}" '
                f'aria-label="Show source {n}: {esc(cited.doc_id)}">{n}</button>'
            )
        else:
            out.append(f'<span class="rc-cite rc-cite-plain">{n}</span>')
        pos = match.end()
    out.append(esc(text[pos:]))
    return "".join(out).strip()


_ANSWERER_LABEL = {"extractive": "quoted from the documents", "llm": "written by the local LLM"}


def _searched(turn: Turn) -> str:
    """Under an answer to a rewritten follow-up: what was searched for, so a person can see
    why this answer came."""
    if not turn.searched:
        return ""
    return f'<div class="rc-meta rc-searched">searched: {esc(turn.searched)}</div>'


def waiting_text(ahead: int) -> str:
    """A waiting question's place in the LLM's line."""
    questions = "question" if ahead == 1 else "questions"
    return f"Waiting for the language model: {ahead} {questions} ahead of yours"


def _bot_bubble(i: int, turn: Turn) -> str:
    if turn.status == "waiting":
        body = (
            '<div class="rc-typing" aria-hidden="true"><span></span><span></span><span></span>'
            f'</div><div class="rc-meta rc-wait-text">{esc(waiting_text(turn.ahead))}…</div>'
        )
        return (
            '<div class="rc-msg rc-bot rc-waiting"><div class="rc-bubble" role="status">'
            f"{body}</div></div>"
        )
    if turn.status == "pending":
        body = (
            '<div class="rc-typing" aria-label="Searching the documents">'
            "<span></span><span></span><span></span></div>"
            '<div class="rc-meta">Searching the documents…</div>'
        )
        return f'<div class="rc-msg rc-bot rc-pending"><div class="rc-bubble">{body}</div></div>'
    if turn.status == "error":
        body = (
            f'<div class="rc-label">{esc(turn.label or "Something went wrong")}</div>'
            f'<div class="rc-text">{esc(turn.text)}</div>'
        )
        return f'<div class="rc-msg rc-bot rc-error"><div class="rc-bubble">{body}</div></div>'
    if turn.status == "refused":
        body = (
            '<div class="rc-label">Not in the documents</div>'
            f'<div class="rc-text">{esc(turn.text)}</div>'
            '<div class="rc-meta">Nothing in the indexed documents answers this, so no answer '
            "was made up. Try rephrasing, or add a document that covers it.</div>" + _searched(turn)
        )
        return f'<div class="rc-msg rc-bot rc-refused"><div class="rc-bubble">{body}</div></div>'
    final = turn.status == "answer"
    parts = [f'<div class="rc-text">{render_text(turn.text, i, turn.sources, final)}</div>']
    if final and turn.sources:
        chips = "".join(
            f'<button type="button" class="rc-chip" data-turn="{i}" data-n="{c.n}">'
            f'<span class="rc-chip-n">{c.n}</span>{esc(c.doc_id)}</button>'
            for c in (s.citation for s in turn.sources)
        )
        parts.append(
            f'<div class="rc-chips"><span class="rc-chips-label">Sources</span>{chips}</div>'
        )
    if final and turn.low_confidence:
        parts.insert(0, f'<div class="rc-label rc-low">{esc(LOW_CONFIDENCE)}</div>')
    if final:
        label = _ANSWERER_LABEL.get(turn.answerer, turn.answerer)
        parts.append(f'<div class="rc-meta">{esc(label)}</div>' if label else "")
        parts.append(_searched(turn))
    else:
        parts.append('<span class="rc-caret" aria-hidden="true"></span>')
    cls = "rc-answer" if final else "rc-answer rc-streaming"
    return f'<div class="rc-msg rc-bot {cls}"><div class="rc-bubble">{"".join(parts)}</div></div>'


def render_chat(turns: Sequence[Turn], n_docs: int) -> str:
    if not turns:
        docs = f"{n_docs} document{'s' if n_docs != 1 else ''}" if n_docs else "no documents yet"
        hint = (
            "Ask a question about them below."
            if n_docs
            else "Add documents (.txt, .md, .html, .pdf, .docx) in the <b>Documents</b> tab to "
            "get started."
        )
        return (
            '<div class="rc-chat rc-chat-empty"><div class="rc-empty">'
            '<div class="rc-empty-title">Ask your documents</div>'
            f"<p>Indexed: <b>{docs}</b>. {hint}</p>"
            "<p>Every sentence of an answer carries a citation like "
            '<span class="rc-cite rc-cite-plain">1</span>: click it to see the exact source '
            "sentence in the <b>Sources</b> panel. When the documents don't hold the answer, "
            "you get told so instead of a guess.</p></div></div>"
        )
    rows = []
    for i, turn in enumerate(turns):
        rows.append(
            f'<div class="rc-turn" data-turn="{i}">'
            f'<div class="rc-msg rc-user"><div class="rc-bubble">{esc(turn.question)}</div></div>'
            f"{_bot_bubble(i, turn)}</div>"
        )
    return f'<div class="rc-chat">{"".join(rows)}</div>'


# -- the sources panel --------------------------------------------------------------------------

SOURCES_PLACEHOLDER = (
    '<div class="rc-sources rc-sources-empty"><p>Click a citation such as '
    '<span class="rc-cite rc-cite-plain">1</span> in an answer to see the sentence it '
    "comes from, highlighted in its paragraph.</p></div>"
)


def render_page_view(view: PageView, c: Citation, doc_id: str) -> str:
    """A PDF page as an image, with the cited sentence's lines marked over it."""
    marks = "".join(
        f'<mark class="rc-page-hl" data-sentence="{esc(c.sentence_id)}" style="left:{x:.3%};'
        f'top:{y:.3%};width:{w:.3%};height:{h:.3%}"></mark>'
        for x, y, w, h in view.boxes
    )
    more = f", continued on page {view.page + 1}" if view.continues else ""
    return (
        f'<div class="rc-page" style="aspect-ratio:{view.width}/{view.height}">'
        f'<img class="rc-page-img" alt="Page {view.page} of {esc(doc_id)}" '
        f'src="data:image/png;base64,{view.png_base64}">{marks}</div>'
        f'<p class="rc-page-no">Page {view.page} of {view.pages}{more}</p>'
    )


def render_source(turn_index: int, turn: Turn, n: int, page: PageView | None = None) -> str:
    """The sources panel: citation [n] of a turn, in its paragraph, and for a PDF on its
    rendered page when `page` is given."""
    src = next((s for s in turn.sources if s.citation.n == n), None)
    if src is None:
        return SOURCES_PLACEHOLDER
    c = src.citation
    if src.found:
        body = (
            f'<p class="rc-para">{esc(src.before)}<mark class="rc-hl" '
            f'data-sentence="{esc(c.sentence_id)}">{esc(c.text)}</mark>'
            f"{esc(src.after)}</p>"
        )
    else:
        body = (
            f'<p class="rc-para"><mark class="rc-hl" data-sentence="{esc(c.sentence_id)}">'
            f"{esc(c.text)}</mark></p>"
            '<p class="rc-note">The document has changed since; this is the sentence as '
            "cited.</p>"
        )
    others = "".join(
        f'<button type="button" class="rc-chip{" rc-chip-active" if o.n == n else ""}" '
        f'data-turn="{turn_index}" data-n="{o.n}"><span class="rc-chip-n">{o.n}</span>'
        f"{esc(o.doc_id)}</button>"
        for o in (s.citation for s in turn.sources)
    )
    where = f'<span class="rc-doc-page">page {c.page}</span>' if c.page else ""
    return (
        '<div class="rc-sources">'
        f'<div class="rc-src-head"><span class="rc-cite rc-cite-plain">{c.n}</span>'
        f'<span class="rc-doc" title="{esc(c.doc_id)}">{esc(c.doc_id)}</span>{where}</div>'
        f'<div class="rc-src-q">Cited in the answer to “{esc(turn.question)}”</div>'
        f"{render_page_view(page, c, c.doc_id) if page else ''}{body}"
        f'<div class="rc-chips"><span class="rc-chips-label">All sources</span>{others}</div>'
        "</div>"
    )


# -- documents ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocRow:
    doc_id: str
    chars: int
    sentences: int


def human_size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    value, unit = (n / 1000, "KB") if n < 1_000_000 else (n / 1_000_000, "MB")
    shown = f"{value:.1f}".removesuffix(".0") if value < 10 else f"{value:.0f}"
    return f"{shown} {unit}"


def render_documents(rows: Sequence[DocRow], skipped: Sequence[Skipped]) -> str:
    if not rows and not skipped:
        return '<div class="rc-docs rc-docs-empty">No documents indexed yet.</div>'
    body = "".join(
        f'<tr><td class="rc-docname" title="{esc(r.doc_id)}">{esc(r.doc_id)}</td>'
        f'<td class="rc-num">{r.sentences}</td><td class="rc-num">{human_size(r.chars)}</td></tr>'
        for r in rows
    )
    table = (
        '<table class="rc-table"><thead><tr><th>Document</th><th class="rc-num">Sentences</th>'
        f'<th class="rc-num">Size</th></tr></thead><tbody>{body}</tbody></table>'
        if rows
        else ""
    )
    skipped_html = ""
    if skipped:
        items = "".join(f"<li><b>{esc(s.doc_id)}</b>: {esc(s.reason)}</li>" for s in skipped)
        skipped_html = f'<div class="rc-skipped">Not indexed:<ul>{items}</ul></div>'
    count = f"{len(rows)} document{'s' if len(rows) != 1 else ''} indexed"
    return (
        f'<div class="rc-docs"><div class="rc-docs-count">{count}</div>{table}{skipped_html}</div>'
    )


def render_notice(messages: Sequence[tuple[Literal["ok", "warn", "error"], str]]) -> str:
    """Messages after an upload or removal, one line each, escaped."""
    if not messages:
        return ""
    items = "".join(
        f'<div class="rc-notice rc-n-{kind}">{esc(text)}</div>' for kind, text in messages
    )
    return f'<div class="rc-notices" role="status">{items}</div>'


def render_header(n_docs: int, n_sentences: int) -> str:
    return (
        '<div class="rc-header"><div><div class="rc-title">Document Q&amp;A</div>'
        '<div class="rc-subtitle">Answers from your own documents, every claim cited. Runs '
        "offline.</div></div>"
        f'<div class="rc-stats"><span><b>{n_docs}</b> document{"s" if n_docs != 1 else ""}'
        f"</span><span><b>{n_sentences}</b> sentences</span></div></div>"
    )

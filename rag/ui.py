"""Pure helpers for the chat page (app.py): escaping, rendering the conversation, the sources
panel and the documents list as HTML, checking uploads, and the launch-safety rules.

Everything that reaches the page from a document, a question or an answer goes through `esc`,
so a document holding `<script>` or `<img onerror=...>` shows as text and never runs.
"""

from __future__ import annotations

import html
import ipaddress
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rag.citations import MARKER
from rag.documents import SUFFIXES, Skipped, decode
from rag.errors import RagError
from rag.types import Answer, Citation, Document

Status = Literal["pending", "streaming", "answer", "refused", "error"]

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


@dataclass
class Source:
    """A citation as shown in the sources panel: the sentence inside its paragraph, captured
    when the answer was given (so it stays right if the document changes later)."""

    n: int
    doc_id: str
    sentence_id: str
    start: int
    end: int
    text: str
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
        return Source(c.n, c.doc_id, c.sentence_id, c.start, c.end, c.text, found=False)
    before, after = paragraph_context(doc_text, c.start, c.end)
    return Source(c.n, c.doc_id, c.sentence_id, c.start, c.end, c.text, before, after)


def turn_from_answer(question: str, answer: Answer, sources: Sequence[Source]) -> Turn:
    return Turn(
        question=question,
        text=answer.text,
        status="refused" if answer.refused else "answer",
        sources=list(sources),
        answerer=answer.answerer,
    )


def render_text(text: str, turn: int, sources: Sequence[Source], clickable: bool) -> str:
    """Answer text, escaped, with each [n] marker as a button when it names a source."""
    by_n = {s.n: s for s in sources}
    out: list[str] = []
    pos = 0
    for match in MARKER.finditer(text):
        out.append(esc(text[pos : match.start()]))
        n = int(match.group(1))
        src = by_n.get(n)
        if clickable and src is not None:
            out.append(
                f'<button type="button" class="rc-cite" data-turn="{turn}" data-n="{n}" '
                f'title="Show source [{n}]: {esc(src.doc_id)}" '
                f'aria-label="Show source {n}: {esc(src.doc_id)}">{n}</button>'
            )
        else:
            out.append(f'<span class="rc-cite rc-cite-plain">{n}</span>')
        pos = match.end()
    out.append(esc(text[pos:]))
    return "".join(out).strip()


_ANSWERER_LABEL = {"extractive": "quoted from the documents", "llm": "written by the local LLM"}


def _bot_bubble(i: int, turn: Turn) -> str:
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
            "was made up. Try rephrasing, or add a document that covers it.</div>"
        )
        return f'<div class="rc-msg rc-bot rc-refused"><div class="rc-bubble">{body}</div></div>'
    final = turn.status == "answer"
    parts = [f'<div class="rc-text">{render_text(turn.text, i, turn.sources, final)}</div>']
    if final and turn.sources:
        chips = "".join(
            f'<button type="button" class="rc-chip" data-turn="{i}" data-n="{s.n}">'
            f'<span class="rc-chip-n">{s.n}</span>{esc(s.doc_id)}</button>'
            for s in turn.sources
        )
        parts.append(
            f'<div class="rc-chips"><span class="rc-chips-label">Sources</span>{chips}</div>'
        )
    if final:
        label = _ANSWERER_LABEL.get(turn.answerer, turn.answerer)
        parts.append(f'<div class="rc-meta">{esc(label)}</div>' if label else "")
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
            else "Add .txt or .md files in the <b>Documents</b> tab to get started."
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


def render_source(turn_index: int, turn: Turn, n: int) -> str:
    src = next((s for s in turn.sources if s.n == n), None)
    if src is None:
        return SOURCES_PLACEHOLDER
    if src.found:
        body = (
            f'<p class="rc-para">{esc(src.before)}<mark class="rc-hl" '
            f'data-sentence="{esc(src.sentence_id)}">{esc(src.text)}</mark>'
            f"{esc(src.after)}</p>"
        )
    else:
        body = (
            f'<p class="rc-para"><mark class="rc-hl" data-sentence="{esc(src.sentence_id)}">'
            f"{esc(src.text)}</mark></p>"
            '<p class="rc-note">The document has changed since; this is the sentence as '
            "cited.</p>"
        )
    others = "".join(
        f'<button type="button" class="rc-chip{" rc-chip-active" if s.n == n else ""}" '
        f'data-turn="{turn_index}" data-n="{s.n}"><span class="rc-chip-n">{s.n}</span>'
        f"{esc(s.doc_id)}</button>"
        for s in turn.sources
    )
    return (
        '<div class="rc-sources">'
        f'<div class="rc-src-head"><span class="rc-cite rc-cite-plain">{src.n}</span>'
        f'<span class="rc-doc" title="{esc(src.doc_id)}">{esc(src.doc_id)}</span></div>'
        f'<div class="rc-src-q">Cited in the answer to “{esc(turn.question)}”</div>'
        f"{body}"
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


# -- uploads ------------------------------------------------------------------------------------


class UploadRejected(RagError):
    """An uploaded file cannot become a document; the message says why, for the user."""


_UNSAFE = re.compile(r"[^\w.\- ]+")


def safe_filename(name: str) -> str:
    """A plain file name for an uploaded file: no folders, no hidden files, no odd characters.

    Raises UploadRejected when it is not a .txt or .md file.
    """
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = re.sub(r"\s+", " ", _UNSAFE.sub("_", base)).strip().rstrip(" .")
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in SUFFIXES:
        kind = f"a {suffix} file" if suffix else "a file without an extension"
        shown = base or "the file"
        raise UploadRejected(
            f"{shown}: only .txt and .md files can be added (this is {kind}). Save it as plain "
            "text first."
        )
    stem = stem.strip(" ._-")[:80].rstrip(" ._-") or "document"
    return stem + suffix


def check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise UploadRejected(
            f"{name} is {human_size(size)}; files can be at most {human_size(max_bytes)} "
            "(RAG_MAX_UPLOAD_BYTES)."
        )


def check_upload(name: str, raw: bytes, max_bytes: int) -> Document:
    """The Document an uploaded file becomes under its safe name, or UploadRejected."""
    doc_id = safe_filename(name)
    check_size(doc_id, len(raw), max_bytes)
    result = decode(doc_id, raw)
    if isinstance(result, Skipped):
        if result.reason == "empty":
            raise UploadRejected(f"{doc_id} is empty; there is nothing in it to index.")
        raise UploadRejected(f"{doc_id} can't be added: {result.reason}.")
    return result


# -- launch safety ------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """RAG_AUTH "user:password" -> (user, password); None when unset."""
    if value is None or not value.strip():
        return None
    user, sep, password = value.partition(":")
    if not sep or not user.strip() or not password:
        raise ValueError("RAG_AUTH must look like user:password (both non-empty)")
    return user.strip(), password


def exposure_problem(host: str, auth: tuple[str, str] | None, allow_unauthenticated: bool) -> str:
    """Why serving on `host` would be unsafe, or "" when it is fine."""
    if is_loopback(host) or auth is not None or allow_unauthenticated:
        return ""
    return (
        f"refusing to serve on {host} without a password: anyone who can reach this machine "
        "could read and change your documents. Set RAG_AUTH=user:password, or "
        "RAG_ALLOW_UNAUTHENTICATED=true if the network is trusted, or keep the default "
        "RAG_HOST=127.0.0.1"
    )


# -- page behaviour and style -------------------------------------------------------------------

# js_on_load of the chat and sources panels: a click on a citation marker or a source chip asks
# the server for that source (the "cite" event); the marker stays lit while it is shown.
CHAT_JS = """
element.addEventListener('click', (event) => {
  const target = event.target.closest('[data-turn][data-n]');
  if (!target || !element.contains(target)) return;
  element.querySelectorAll('.rc-active').forEach((el) => el.classList.remove('rc-active'));
  target.classList.add('rc-active');
  trigger('cite', {turn: Number(target.dataset.turn), n: Number(target.dataset.n)});
});
watch('value', () => {
  // keep the newest message in view while it streams
  let box = element.querySelector('.rc-chat');
  while (box && box !== document.body) {
    const style = getComputedStyle(box);
    if (/(auto|scroll)/.test(style.overflowY) && box.scrollHeight > box.clientHeight) {
      box.scrollTop = box.scrollHeight;
      break;
    }
    box = box.parentElement;
  }
});
"""

SOURCES_JS = """
element.addEventListener('click', (event) => {
  const target = event.target.closest('[data-turn][data-n]');
  if (!target || !element.contains(target)) return;
  trigger('cite', {turn: Number(target.dataset.turn), n: Number(target.dataset.n)});
});
watch('value', () => {
  const mark = element.querySelector('mark.rc-hl');
  if (mark) mark.scrollIntoView({block: 'nearest'});
});
"""

CSS = """
.gradio-container { width: 100% !important; max-width: 1320px !important;
  margin: 0 auto !important; }
footer { opacity: .7; }

.rc-header { display: flex; justify-content: space-between; align-items: flex-end; gap: 16px;
  padding: 6px 2px 2px; flex-wrap: wrap; }
.rc-title { font-size: 1.55rem; font-weight: 700; letter-spacing: -.01em;
  color: var(--body-text-color); }
.rc-subtitle { color: var(--body-text-color-subdued); margin-top: 2px; }
.rc-stats { display: flex; gap: 8px; }
.rc-stats span { padding: 4px 12px; border-radius: 999px; font-size: .85rem;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary);
  color: var(--body-text-color-subdued); }
.rc-stats b { color: var(--body-text-color); }

#rc-chat { border: 1px solid var(--border-color-primary); border-radius: 14px;
  background: var(--background-fill-secondary); padding: 18px 18px 8px; }
.rc-chat { display: flex; flex-direction: column; gap: 18px; padding-bottom: 10px; }
.rc-turn { display: flex; flex-direction: column; gap: 10px; }
.rc-msg { display: flex; }
.rc-user { justify-content: flex-end; }
.rc-bubble { padding: 11px 15px; line-height: 1.6; overflow-wrap: anywhere; }
.rc-user .rc-bubble { background: var(--color-accent); color: #fff; max-width: 80%;
  border-radius: 16px 16px 4px 16px; white-space: pre-wrap; }
.rc-bot .rc-bubble { background: var(--background-fill-primary); max-width: 90%;
  border: 1px solid var(--border-color-primary); border-radius: 16px 16px 16px 4px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, .06); color: var(--body-text-color); }
.rc-text { white-space: pre-wrap; }
.rc-label { font-size: .72rem; font-weight: 700; letter-spacing: .06em; text-transform: uppercase;
  margin-bottom: 4px; }
.rc-refused .rc-bubble { background: #fffbeb; border-color: #fcd34d; }
.rc-refused .rc-label { color: #b45309; }
.rc-refused .rc-text { font-style: italic; }
.rc-error .rc-bubble { background: #fef2f2; border-color: #fca5a5; }
.rc-error .rc-label { color: #b91c1c; }
.dark .rc-refused .rc-bubble { background: #3b2a06; border-color: #a16207; }
.dark .rc-refused .rc-label { color: #fcd34d; }
.dark .rc-error .rc-bubble { background: #3f1212; border-color: #b91c1c; }
.dark .rc-error .rc-label { color: #fca5a5; }
.rc-meta { margin-top: 6px; font-size: .76rem; color: var(--body-text-color-subdued); }

.rc-cite { display: inline-flex; align-items: center; justify-content: center;
  min-width: 1.45em; height: 1.45em; padding: 0 .35em; margin: 0 .12em; font-size: .72em;
  font-weight: 700; line-height: 1; border-radius: 999px; vertical-align: .35em;
  background: var(--primary-100); color: var(--primary-700); border: 1px solid var(--primary-300);
  font-style: normal; }
button.rc-cite { cursor: pointer; transition: background .12s, color .12s; }
button.rc-cite:hover, button.rc-cite:focus-visible, .rc-cite.rc-active {
  background: var(--primary-600); color: #fff; border-color: var(--primary-600); outline: none; }
.dark .rc-cite { background: var(--primary-900); color: var(--primary-200);
  border-color: var(--primary-700); }
.rc-chips { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-top: 10px; }
.rc-chips-label { font-size: .7rem; font-weight: 700; letter-spacing: .06em;
  text-transform: uppercase; color: var(--body-text-color-subdued); margin-right: 2px; }
.rc-chip { display: inline-flex; align-items: center; gap: 6px; max-width: 100%; cursor: pointer;
  padding: 2px 10px 2px 3px; font-size: .8rem; border-radius: 999px; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; color: var(--body-text-color);
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); }
.rc-chip:hover, .rc-chip.rc-active, .rc-chip.rc-chip-active { border-color: var(--primary-500); }
.rc-chip-n { display: inline-flex; align-items: center; justify-content: center; min-width: 1.4em;
  height: 1.4em; border-radius: 999px; font-size: .72rem; font-weight: 700;
  background: var(--primary-100); color: var(--primary-700); }
.rc-chip-active .rc-chip-n { background: var(--primary-600); color: #fff; }

.rc-typing { display: inline-flex; gap: 4px; padding: 4px 0; }
.rc-typing span { width: 7px; height: 7px; border-radius: 50%; background: var(--primary-400);
  animation: rc-blink 1.2s infinite ease-in-out both; }
.rc-typing span:nth-child(2) { animation-delay: .2s; }
.rc-typing span:nth-child(3) { animation-delay: .4s; }
.rc-caret { display: inline-block; width: 7px; height: 1.1em; margin-left: 2px;
  vertical-align: text-bottom; background: var(--primary-500); animation: rc-blink 1s infinite; }
@keyframes rc-blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }

.rc-chat-empty { min-height: 360px; justify-content: center; }
.rc-empty { max-width: 560px; margin: 40px auto; text-align: center;
  color: var(--body-text-color-subdued); line-height: 1.6; }
.rc-empty-title { font-size: 1.3rem; font-weight: 700; color: var(--body-text-color);
  margin-bottom: 8px; }

#rc-ask-row { align-items: stretch; }
#rc-ask-row button { white-space: nowrap; }
#rc-doc-actions { justify-content: flex-start; }
#rc-doc-actions button { flex: 0 0 auto; }

.rc-sources { padding: 4px 2px; line-height: 1.6; }
.rc-sources-empty { color: var(--body-text-color-subdued); padding: 24px 8px; text-align: center; }
.rc-src-head { display: flex; align-items: center; gap: 8px; font-weight: 700;
  color: var(--body-text-color); }
.rc-doc { overflow-wrap: anywhere; }
.rc-src-q { font-size: .82rem; color: var(--body-text-color-subdued); margin: 4px 0 10px; }
.rc-para { white-space: pre-wrap; overflow-wrap: anywhere; color: var(--body-text-color-subdued);
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary);
  border-radius: 10px; padding: 12px 14px; margin: 0; max-height: 420px; overflow-y: auto; }
mark.rc-hl { background: #fde68a; color: #1f2937; padding: 1px 3px; border-radius: 4px;
  box-shadow: 0 0 0 1px #f59e0b; }
.rc-note { font-size: .8rem; color: var(--body-text-color-subdued); }

.rc-docs-count { font-weight: 600; margin: 4px 0 6px; color: var(--body-text-color); }
.rc-table { width: 100%; border-collapse: collapse; font-size: .86rem; border: none !important;
  margin: 0 !important; }
.rc-table tr, .rc-table thead, .rc-table tbody { border: none !important; }
.rc-table th, .rc-table td { border-left: none !important; border-right: none !important;
  border-top: none !important; }
.rc-table th { text-align: left; font-weight: 600; color: var(--body-text-color-subdued);
  border-bottom: 1px solid var(--border-color-primary); padding: 4px 6px; }
.rc-table td { border-bottom: 1px solid var(--border-color-primary); padding: 5px 6px;
  color: var(--body-text-color); }
.rc-table .rc-num { text-align: right; white-space: nowrap; }
.rc-docname { overflow-wrap: anywhere; }
.rc-docs-empty { color: var(--body-text-color-subdued); padding: 8px 2px; }
.rc-skipped { margin-top: 8px; font-size: .82rem; color: var(--body-text-color-subdued); }
.rc-notices { display: flex; flex-direction: column; gap: 6px; margin: 4px 0; }
.rc-notice { padding: 7px 11px; border-radius: 8px; font-size: .86rem; border: 1px solid;
  overflow-wrap: anywhere; }
.rc-n-ok { background: #ecfdf5; border-color: #6ee7b7; color: #065f46; }
.rc-n-warn { background: #fffbeb; border-color: #fcd34d; color: #92400e; }
.rc-n-error { background: #fef2f2; border-color: #fca5a5; color: #991b1b; }
.dark .rc-n-ok { background: #052e1f; color: #a7f3d0; }
.dark .rc-n-warn { background: #3b2a06; color: #fde68a; }
.dark .rc-n-error { background: #3f1212; color: #fecaca; }
"""

"""What a file's bytes are, and the text each format gives: plain text and Markdown as they are,
PDF through its text layer (rag/ingest/pdf.py), HTML without navigation and scripts, DOCX by
paragraph and table row.

A file's type is checked by its content as well as its name: a `.pdf` must start like a PDF, a
`.docx` must be a Word package, and `.txt`/`.md`/`.html` must be UTF-8 text (or HTML with its
declared charset). Every failure is a reason for the skip report, never an exception.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["text", "html", "pdf", "docx"]

KINDS: dict[str, Kind] = {
    ".txt": "text",
    ".md": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
SUFFIXES = tuple(KINDS)


@dataclass(frozen=True)
class Extracted:
    text: str  # what sentences index into
    pages: tuple[int, ...] = ()  # where each page starts in text (PDF only)


def sniff(raw: bytes) -> str:
    """What the bytes look like: "pdf", "docx", "zip", "binary" or "text"."""
    if b"%PDF-" in raw[:1024]:
        return "pdf"
    if raw[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                return "docx" if "word/document.xml" in z.namelist() else "zip"
        except zipfile.BadZipFile:
            return "zip"
    if b"\x00" in raw[:8192]:
        return "binary"
    return "text"


_SEEN = {"pdf": "a PDF", "docx": "a Word document", "zip": "a ZIP archive", "binary": "binary"}
_LISTED = ", ".join(SUFFIXES)


def extract(suffix: str, raw: bytes) -> Extracted | str:
    """The text of a file of this suffix, or the reason it has none."""
    kind = KINDS[suffix.lower()]
    seen = sniff(raw)
    expected = "text" if kind in ("text", "html") else kind
    if seen != expected:
        if seen == "text" or kind in ("pdf", "docx"):
            what = _SEEN.get(seen, "plain text")
            return f"named {suffix} but its content is {what}; rename it or save it again"
        what = f" ({_SEEN[seen]})" if seen != "binary" else ""
        return f"binary file{what}, not text; only {_LISTED} files are read"
    if kind == "pdf":
        from rag.ingest.pdf import PdfUnreadable, read_pdf

        try:
            text, pages = read_pdf(raw)
        except PdfUnreadable as exc:
            return str(exc)
        return Extracted(text, pages)
    if kind == "docx":
        return read_docx(raw)
    decoded = decode_text(raw, html=kind == "html")
    if isinstance(decoded, str) or kind == "text":
        return decoded
    return read_html(decoded.text)


def decode_text(raw: bytes, html: bool = False) -> Extracted | str:
    """UTF-8 text (for HTML, also the charset its <meta> declares) with newlines normalised as
    Python's text mode does, so offsets match `Path.read_text()`; or why it is not text."""
    try:
        text = raw.decode("utf-8-sig" if html else "utf-8")
    except UnicodeDecodeError as exc:
        declared = re.search(rb"""charset=["']?([\w-]+)""", raw[:4096]) if html else None
        try:
            text = raw.decode(declared.group(1).decode("ascii")) if declared else ""
        except (LookupError, UnicodeDecodeError):
            declared = None
        if not declared:
            return f"not UTF-8 (byte {exc.start}); re-save it as UTF-8"
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return "empty"
    return Extracted(text)


# -- HTML ---------------------------------------------------------------------------------------

# Never part of the text: code, and the parts of a page around its article.
_NOT_TEXT = "script, style, noscript, template, svg, canvas, iframe, object, select, button"
_AROUND = (
    "nav, aside, form, dialog, [role=navigation], [role=complementary], [role=search], "
    "[aria-hidden=true], [hidden]"
)
_PAGE_FRAME = "header, footer, [role=banner], [role=contentinfo]"
_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "caption",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    ]
)


def read_html(text: str) -> Extracted | str:
    """The main text of a web page, one paragraph per block (heading, paragraph, list item, table
    row), separated by blank lines: the <main> element, else its longest <article>, else <body>
    without the page's header, footer and navigation."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(text)
    for node in tree.css(_NOT_TEXT):
        node.decompose()
    articles = tree.css("article")
    root = tree.css_first("main") or (
        max(articles, key=lambda a: len(a.text())) if articles else tree.body
    )
    if root is None:
        return "empty"
    for node in root.css(_AROUND + ("" if root.tag in ("main", "article") else ", " + _PAGE_FRAME)):
        node.decompose()
    paragraphs: list[str] = []
    line: list[str] = []

    def flush() -> None:
        joined = re.sub(r"\s+", " ", "".join(line)).strip()
        if joined:
            paragraphs.append(joined)
        line.clear()

    stack: list[Any] = [root]  # a node, or None: the end of a block
    while stack:
        node = stack.pop()
        if node is None:  # the end of a block
            flush()
            continue
        if node.tag == "-text":
            line.append(node.text_content or "")
            continue
        if node.tag in ("td", "th"):
            line.append(" ")
        if node.tag in _BLOCKS:
            flush()
            stack.append(None)
        stack.extend(reversed(list(node.iter(include_text=True))))
    flush()
    if not paragraphs:
        return "no text in the page's main content"
    return Extracted("\n\n".join(paragraphs))


# -- DOCX ---------------------------------------------------------------------------------------


def read_docx(raw: bytes) -> Extracted | str:
    """The paragraphs and table rows of a Word document, in order, separated by blank lines."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(raw))
    except Exception as exc:  # python-docx raises many kinds for a damaged package
        return f"broken Word document ({type(exc).__name__}); open and save it again"
    paragraphs: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            rows = [block.text]
        elif isinstance(block, Table):
            rows = ["; ".join(dict.fromkeys(c.text.strip() for c in r.cells)) for r in block.rows]
        for row in rows:
            row = re.sub(r"[ \t\u00a0]+", " ", row.replace("\n", " ")).strip()
            if row:
                paragraphs.append(row)
    if not paragraphs:
        return "empty"
    return Extracted("\n\n".join(paragraphs))

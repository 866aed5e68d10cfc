"""PDF documents (pypdfium2): the text layer with page offsets, and a page drawn with the boxes
of a cited sentence.

PDFium gives a page's characters with a line break after every printed line, but in this
project a line break ends a sentence. So the lines of a page are joined (`reflow`, pure): with
a space inside a paragraph, with a line break where a paragraph or heading ends, and with a
blank line between pages (a space when a sentence runs on to the next page). The joined text
keeps, for each of its characters, the index of the PDFium character it came from, so the
offsets of a cited sentence lead back to its character boxes on the page.
"""

from __future__ import annotations

import base64
import io
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PARAGRAPH_END = re.compile(r"[.!?:;][\"'”’)\]]*$")
FULL_LINE = 0.85  # a line shorter than this share of the page's longest one may end a paragraph
SHORT_LINE = 0.6  # ... and one shorter than this ends one even without a full stop (a heading)
SOFT_HYPHENS = "\x02\u00ad\ufffe"  # what PDFium reports for a hyphen a line break made
RENDER_SCALE = 1.6  # pixels per PDF point of a page shown in the sources panel


class PdfUnreadable(Exception):
    """A PDF whose text cannot be read; str() says why, for the skip report."""


@dataclass(frozen=True)
class PageText:
    text: str
    chars: tuple[int, ...]  # the PDFium character index of each character of text (-1: added)


def reflow(raw: str) -> PageText:
    """A page's PDFium text (one character per PDFium character) as lines joined into
    paragraphs, each character mapped back to its PDFium index."""
    lines: list[list[tuple[str, int]]] = [[]]
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch in "\r\n":
            lines.append([])
            i += 2 if raw[i : i + 2] == "\r\n" else 1
            continue
        if ch == "\t" or unicodedata.category(ch) == "Zs":
            lines[-1].append((" ", i))
        elif ch in SOFT_HYPHENS:
            lines[-1].append(("\x02", i))  # marks a hyphenated line end; dropped below
        elif unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            lines[-1].append((ch, i))
        i += 1
    trimmed = [_strip(line) for line in lines]
    longest = max((len(line) for line in trimmed), default=0)
    out: list[tuple[str, int]] = []
    for n, line in enumerate(trimmed):
        if not line:
            if out and out[-1][0] != "\n":
                out.append(("\n", -1))
            continue
        hyphenated = line[-1][0] == "\x02"
        out.extend(c for c in line if c[0] != "\x02")
        if n == len(trimmed) - 1:
            break
        text = "".join(c for c, _ in line)
        if hyphenated:
            continue  # "exam-" + "ple": the word goes on
        if len(line) < SHORT_LINE * longest or (
            PARAGRAPH_END.search(text) and len(line) < FULL_LINE * longest
        ):
            out.append(("\n", -1))
        else:
            out.append((" ", -1))
    while out and out[-1][0] in " \n":
        out.pop()
    return PageText("".join(c for c, _ in out), tuple(i for _, i in out))


def _strip(line: list[tuple[str, int]]) -> list[tuple[str, int]]:
    lo, hi = 0, len(line)
    while lo < hi and line[lo][0] == " ":
        lo += 1
    while hi > lo and line[hi - 1][0] == " ":
        hi -= 1
    return line[lo:hi]


def join_pages(pages: Sequence[str]) -> tuple[str, tuple[int, ...]]:
    """The document text and the offset where each page starts in it."""
    parts: list[str] = []
    starts: list[int] = []
    size = 0
    for page in pages:
        if parts and page:
            sep = "\n\n" if PARAGRAPH_END.search(parts[-1]) or not parts[-1] else " "
            parts.append(sep)
            size += len(sep)
        starts.append(size)
        if page:
            parts.append(page)
            size += len(page)
    return "".join(parts), tuple(starts)


def page_of(page_starts: Sequence[int], offset: int) -> int | None:
    """The 1-based page that holds text offset `offset`, or None for a document without pages."""
    return bisect_right(page_starts, offset) if page_starts else None


# -- PDFium, at the edge ------------------------------------------------------------------------


def _open(source: bytes | Path) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(source if isinstance(source, Path) else bytes(source))
    except pdfium.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            raise PdfUnreadable(
                "encrypted PDF (it needs a password); save a copy without one"
            ) from None
        detail = re.search(r"PDFium: ([^)]+)", message)
        raise PdfUnreadable(
            f"broken PDF ({detail.group(1) if detail else message}); open and save it again"
        ) from exc


def _page_raw(textpage: Any) -> str:
    """The page's characters, exactly one per PDFium character index."""
    import pypdfium2.raw as raw

    count = textpage.count_chars()
    text = textpage.get_text_range() if count else ""
    if len(text) == count:
        return str(text)
    # PDFium left characters out or wrote some outside the BMP: ask one by one
    return "".join(chr(raw.FPDFText_GetUnicode(textpage.raw, i) or 0xFFFD) for i in range(count))


def _page_text(doc: Any, index: int) -> PageText:
    page = doc[index]
    textpage = page.get_textpage()
    try:
        return reflow(_page_raw(textpage))
    finally:
        textpage.close()
        page.close()


def read_pdf(raw: bytes) -> tuple[str, tuple[int, ...]]:
    """The text of a PDF and the offset where each page starts; PdfUnreadable when there is no
    text to read (encrypted, broken, or scanned pages without a text layer)."""
    doc = _open(raw)
    try:
        pages = [_page_text(doc, i).text for i in range(len(doc))]
    finally:
        doc.close()
    text, starts = join_pages(pages)
    if not text.strip():
        raise PdfUnreadable(
            f"no text layer ({len(pages)} page{'s' if len(pages) != 1 else ''} of images); "
            "run OCR on it first (e.g. `ocrmypdf in.pdf out.pdf`)"
        )
    return text, starts


@dataclass(frozen=True)
class PageView:
    """A page drawn for the sources panel, and where a sentence sits on it."""

    page: int  # 1-based
    pages: int  # how many the document has
    png_base64: str
    width: int
    height: int
    boxes: tuple[tuple[float, float, float, float], ...]  # left, top, width, height as shares
    continues: bool  # the sentence runs on to the next page


def render_page(source: bytes | Path, page_starts: Sequence[int], start: int, end: int) -> PageView:
    """Page `page_of(start)` of a PDF (its bytes or path), with the boxes of text[start:end]."""
    page_no = page_of(page_starts, start)
    assert page_no is not None
    doc = _open(source)
    try:
        page = doc[page_no - 1]
        pw, ph = page.get_size()
        textpage = page.get_textpage()
        mapped = reflow(_page_raw(textpage))
        lo = start - page_starts[page_no - 1]
        hi = min(end - page_starts[page_no - 1], len(mapped.text))
        chars = [c for c in mapped.chars[lo:hi] if c >= 0]
        rects = [textpage.get_charbox(c) for c in chars]
        image = page.render(scale=RENDER_SCALE).to_pil()
        textpage.close()
        page.close()
        pages = len(doc)
    finally:
        doc.close()
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return PageView(
        page=page_no,
        pages=pages,
        png_base64=base64.b64encode(buf.getvalue()).decode("ascii"),
        width=image.width,
        height=image.height,
        boxes=tuple(
            (x0 / pw, 1 - y1 / ph, (x1 - x0) / pw, (y1 - y0) / ph)
            for x0, y0, x1, y1 in line_boxes(rects)
        ),
        continues=end - page_starts[page_no - 1] > len(mapped.text),
    )


def line_boxes(
    rects: Sequence[tuple[float, float, float, float]],
) -> list[tuple[float, float, float, float]]:
    """Character boxes (left, bottom, right, top in PDF points) merged into one box per line."""
    lines: list[list[float]] = []
    for x0, y0, x1, y1 in rects:
        if x1 <= x0 or y1 <= y0:
            continue  # a space or a generated character has no box
        last = lines[-1] if lines else None
        if last and min(y1, last[3]) - max(y0, last[1]) > 0.5 * min(y1 - y0, last[3] - last[1]):
            last[0], last[1] = min(last[0], x0), min(last[1], y0)
            last[2], last[3] = max(last[2], x1), max(last[3], y1)
        else:
            lines.append([x0, y0, x1, y1])
    pad = 1.0
    return [(a - pad, b - pad, c + pad, d + pad) for a, b, c, d in lines]

"""Reading PDF, HTML and DOCX files people have: text, page numbers, and the skip reasons."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest

from rag.ingest.documents import read_documents
from rag.ingest.formats import extract, sniff
from rag.ingest.pdf import join_pages, line_boxes, page_of, reflow, render_page
from rag.ingest.sentences import split_sentences
from tests.files import make_docx, make_html, make_image_only_pdf, make_pdf

LONG = (
    "The harbour master closed the port on the third day because the wind was far too strong "
    "for the ferries to cross the bay and come back again before dark."
)
PAGES = [
    ["Harbour report", LONG, "The pier was repaired in May."],
    ["The ferry left at noon on Tuesday.", "Its crew counted forty passengers."],
    ["The drills were suspended because a storm flooded the range.", "Nobody was hurt."],
]


@pytest.fixture
def report_pdf(tmp_path: Path) -> Path:
    path = tmp_path / "report.pdf"
    make_pdf(path, PAGES)
    return path


def test_pdf_text_has_each_sentence_on_its_page(report_pdf: Path) -> None:
    result = extract(".pdf", report_pdf.read_bytes())
    assert not isinstance(result, str), result
    sentences = split_sentences("report.pdf", result.text, result.pages)
    by_text = {s.text: s for s in sentences}
    for page, paragraphs in enumerate(PAGES, start=1):
        for paragraph in paragraphs:
            # a paragraph wrapped over several lines is still one sentence, and on its page
            assert by_text[paragraph].page == page, paragraph
    for s in sentences:
        assert result.text[s.start : s.end] == s.text
    assert "Harbour report" in by_text  # a heading ends at its line


def test_reflow_joins_lines_keeps_headings_and_hyphenated_words() -> None:
    raw = (
        "Title\r\n"
        "A sentence that runs over the full width of the page and goes on to the\r\n"
        "next line. Then a short end.\r\n"
        "A new para\x02\r\n"
        "graph that is as long as the lines above it are, more or less, in width.\r\n"
        "Last line."
    )
    page = reflow(raw)
    assert page.text.split("\n") == [
        "Title",
        "A sentence that runs over the full width of the page and goes on to the next line. "
        "Then a short end.",
        "A new paragraph that is as long as the lines above it are, more or less, in width. "
        "Last line.",
    ]
    for ch, index in zip(page.text, page.chars, strict=True):
        assert index == -1 or raw[index] == ch  # every kept character maps back to PDFium's


def test_pages_join_and_page_of() -> None:
    text, starts = join_pages(["One ends here.", "", "This runs on", "to here."])
    assert text == "One ends here.\n\nThis runs on to here."
    assert starts == (0, 14, 16, 29)  # the empty page 2 holds only the page break
    assert [page_of(starts, i) for i in (0, 13, 16, 29)] == [1, 1, 3, 4]
    assert page_of((), 5) is None


def test_render_page_boxes_the_sentence_on_its_page(report_pdf: Path) -> None:
    result = extract(".pdf", report_pdf.read_bytes())
    assert not isinstance(result, str)
    sentence = "The drills were suspended because a storm flooded the range."
    start = result.text.index(sentence)
    view = render_page(report_pdf, result.pages, start, start + len(sentence))
    assert (view.page, view.pages, view.continues) == (3, 3, False)
    assert len(view.boxes) == 1  # one line
    left, top, width, height = view.boxes[0]
    assert 0.03 < left < 0.1 and 0.02 < top < 0.08 and 0.4 < width < 0.9 and height < 0.03
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(view.png_base64)))
    assert image.size == (view.width, view.height) and view.height > view.width
    # the long sentence of page 1 wraps: one box per line
    start = result.text.index(LONG)
    assert len(render_page(report_pdf, result.pages, start, start + len(LONG)).boxes) == 2


def test_line_boxes_merge_characters_of_a_line() -> None:
    chars = [(10, 100, 15, 110), (15, 100, 20, 110), (0, 0, 0, 0), (10, 80, 15, 90)]
    assert line_boxes(chars) == [(9, 99, 21, 111), (9, 79, 16, 91)]


def test_unreadable_pdfs_are_skipped_with_the_reason(tmp_path: Path, report_pdf: Path) -> None:
    make_pdf(tmp_path / "locked.pdf", [["Secret text."]], password="pw")
    make_image_only_pdf(tmp_path / "scan.pdf")
    (tmp_path / "torn.pdf").write_bytes(report_pdf.read_bytes()[:600])
    docs, skipped = read_documents(tmp_path)
    assert [d.doc_id for d in docs] == ["report.pdf"]
    assert docs[0].pages and len(docs[0].pages) == 3
    reasons = {s.doc_id: s.reason for s in skipped}
    assert "encrypted PDF" in reasons["locked.pdf"]
    assert "no text layer" in reasons["scan.pdf"] and "OCR" in reasons["scan.pdf"]
    assert "broken PDF" in reasons["torn.pdf"]


def test_html_keeps_the_article_not_the_page_around_it(tmp_path: Path) -> None:
    path = tmp_path / "news.html"
    make_html(path, "Storm closes range", ["The drills were <b>suspended</b>.", "Nobody was hurt."])
    result = extract(".html", path.read_bytes())
    assert not isinstance(result, str)
    assert result.text == "Storm closes range\n\nThe drills were suspended.\n\nNobody was hurt."
    for noise in ("Sport", "Subscribe", "Advertisement", "Copyright", "font"):
        assert noise not in result.text


def test_html_without_article_drops_header_footer_and_reads_its_charset() -> None:
    page = (
        '<html><head><meta charset="windows-1252"></head><body><header>Menu</header>'
        "<div><h2>Caf\xe9 news</h2><p>One.<br>Two.</p><ul><li>A point</li></ul>"
        "<table><tr><td>Ship</td><td>Ferry</td></tr></table></div><footer>Legal</footer>"
        "</body></html>"
    ).encode("cp1252")
    result = extract(".htm", page)
    assert not isinstance(result, str)
    assert result.text.split("\n\n") == ["Café news", "One.", "Two.", "A point", "Ship Ferry"]
    assert extract(".html", b"<html><body><nav>only links</nav></body></html>") == (
        "no text in the page's main content"
    )


def test_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "letter.docx"
    make_docx(
        path,
        "Minutes",
        ["The board met on Monday.", "It approved the budget."],
        [["Item", "Cost"], ["Pier", "4000"]],
    )
    assert sniff(path.read_bytes()) == "docx"
    result = extract(".docx", path.read_bytes())
    assert not isinstance(result, str)
    assert result.text.split("\n\n") == [
        "Minutes",
        "The board met on Monday.",
        "It approved the budget.",
        "Item; Cost",
        "Pier; 4000",
    ]


def test_broken_docx_and_lying_extensions(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<not really xml")
    assert "broken Word document" in str(extract(".docx", buf.getvalue()))
    assert "named .docx but its content is plain text" in str(extract(".docx", b"hello"))
    assert "named .pdf but its content is a Word document" in str(extract(".pdf", buf.getvalue()))
    assert "binary file (a ZIP archive)" in str(extract(".md", b"PK\x03\x04rest"))

"""Real documents made for tests: PDFs with known text on known pages (fpdf2), Word files
(python-docx), and the broken or encrypted kinds people have on their disks."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path


def make_pdf(
    path: Path, pages: Sequence[Sequence[str]], *, password: str | None = None
) -> list[float]:
    """A PDF with one page per item, each paragraph of it wrapped over as many lines as it needs.
    Returns the top of each page's first paragraph as a share of the page height."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("helvetica", size=12)
    tops = []
    for paragraphs in pages:
        pdf.add_page()
        tops.append(pdf.get_y() / pdf.h)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 7, paragraph)
            pdf.ln(4)
    if password:
        pdf.set_encryption(owner_password=password + "-owner", user_password=password)
    pdf.output(str(path))
    return tops


def make_image_only_pdf(path: Path) -> None:
    """A 'scanned' PDF: a drawing and no text layer."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(path))


def make_docx(
    path: Path, heading: str, paragraphs: Sequence[str], table: Sequence[Sequence[str]]
) -> None:
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, cell in enumerate(row):
            grid.cell(r, c).text = cell
    buf = io.BytesIO()
    document.save(buf)
    path.write_bytes(buf.getvalue())


ARTICLE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Harbour news</title>
<style>body {{ font: 14px serif }}</style><script>var tracking = "Subscribe now.";</script></head>
<body>
<header><a href="/">Harbour Weekly</a> <nav><ul><li><a href="/sport">Sport</a></li>
<li><a href="/weather">Weather</a></li></ul></nav></header>
<div class="layout"><aside>Advertisement: Buy boats today.</aside>
<article><h1>{title}</h1>
{paragraphs}
</article></div>
<footer>Copyright 2026 Harbour Weekly. All rights reserved.</footer>
</body></html>
"""


def make_html(path: Path, title: str, paragraphs: Sequence[str]) -> None:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    path.write_text(ARTICLE_PAGE.format(title=title, paragraphs=body), encoding="utf-8")

"""The chat page's pure parts, without a browser or an engine: escaping, rendering
(rag.web.render), upload checks (rag.web.uploads) and the launch-safety rules
(rag.web.server)."""

from __future__ import annotations

import socket
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from rag.errors import SettingsError
from rag.ingest.documents import Skipped
from rag.types import ANSWERED, Answer, Citation, Decision
from rag.web.render import (
    DocRow,
    Source,
    Turn,
    esc,
    human_size,
    make_source,
    paragraph_context,
    render_chat,
    render_documents,
    render_notice,
    render_source,
    render_text,
    turn_from_answer,
)
from rag.web.server import exposure_problem, is_loopback, main, parse_auth, port_problem
from rag.web.uploads import UploadRejected, check_upload, safe_filename

HOSTILE = (
    '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> '
    "${window.__pwned=1} {{constructor.constructor('x')()}} `tick` ' \" &amp;"
)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)


SAFE_TAGS = {"div", "span", "button", "p", "mark", "b", "table", "thead", "tbody", "tr", "th", "td"}
SAFE_TAGS |= {"ul", "li"}


def inert(html: str) -> None:
    """Only the renderer's own tags and attributes, and no template syntax, survive."""
    parser = _Tags()
    parser.feed(html)
    assert parser.tags <= SAFE_TAGS, parser.tags - SAFE_TAGS
    assert not any(a.startswith("on") or a in ("src", "href", "style") for a in parser.attrs)
    assert "${" not in html and "{{" not in html and "`" not in html


def cite(n: int, doc: str = "a.txt", start: int = 0, text: str = "x") -> Citation:
    return Citation(n, doc, f"{doc}#s{n}", start, start + len(text), text)


def source(
    n: int, doc: str = "a.txt", text: str = "x", before: str = "", after: str = ""
) -> Source:
    return Source(cite(n, doc, text=text), before, after)


# -- escaping and rendering -----------------------------------------------------------------------


def test_esc_makes_markup_and_templates_inert() -> None:
    out = esc(HOSTILE)
    inert(out)
    assert "&lt;script&gt;" in out and "&quot;" in out and "&#x27;" in out
    assert "&amp;amp;" in out  # already-escaped text stays literal, not decoded


def test_markers_become_buttons_only_for_known_citations() -> None:
    src = [source(1, 'we"ird<doc>.txt')]
    html = render_text("Claim one. [1] Claim two. [7]", 3, src, clickable=True)
    assert html.count("<button") == 1
    assert 'data-turn="3" data-n="1"' in html
    assert "we&quot;ird&lt;doc&gt;.txt" in html  # the title attribute cannot be broken out of
    assert '<span class="rc-cite rc-cite-plain">7</span>' in html
    assert "<button" not in render_text("Draft [1]", 0, src, clickable=False)


def test_answer_refusal_error_and_pending_look_different() -> None:
    answer = Turn("Q?", "Because. [1]", "answer", [source(1, text="Because.")])
    refused = Turn("Q?", "The documents don't say.", "refused")
    error = Turn("Q?", "the question is empty.", "error", label="Please rephrase")
    pending = Turn("Q?")
    html = render_chat([answer, refused, error, pending], n_docs=1)
    assert html.count("rc-answer") == 1 and "rc-refused" in html and "rc-error" in html
    assert "Not in the documents" in html and "Please rephrase" in html
    assert "rc-pending" in html and "Searching the documents" in html
    refusal_html = html[html.index("rc-refused") :]
    assert "<button" not in refusal_html.split("rc-error")[0]


def test_everything_from_documents_and_users_is_escaped() -> None:
    src = Source(Citation(1, HOSTILE + ".txt", HOSTILE, 0, len(HOSTILE), HOSTILE), HOSTILE, HOSTILE)
    turns = [
        Turn(HOSTILE, HOSTILE + " [1]", "answer", [src], "extractive"),
        Turn(HOSTILE, HOSTILE, "error"),
        Turn(HOSTILE, HOSTILE, "streaming"),
    ]
    inert(render_chat(turns, 1))
    inert(render_source(0, turns[0], 1))
    inert(render_documents([], []))
    inert(render_notice([("error", HOSTILE)]))
    inert(render_documents([DocRow(HOSTILE, 10, 1)], [Skipped(HOSTILE, HOSTILE)]))


def test_the_answer_says_who_wrote_it() -> None:
    """The LLM writer's extractive fallback labels its Answer "extractive": the page must show
    quoted text as quoted, never as "written by the local LLM"."""
    citation = cite(1, text="The drills were suspended.")
    fallback = Answer(
        "Why?",
        "The drills were suspended. [1]",
        ANSWERED,
        (citation,),
        (),
        "extractive",
        note="extractive fallback: unsupported claim",
    )
    written = Answer("Why?", "They stopped over a flag. [1]", ANSWERED, (citation,), (), "llm")
    quoted_html = render_chat([turn_from_answer("Why?", fallback, [Source(citation)])], 1)
    assert "quoted from the documents" in quoted_html
    assert "written by the local LLM" not in quoted_html
    written_html = render_chat([turn_from_answer("Why?", written, [Source(citation)])], 1)
    assert "written by the local LLM" in written_html
    assert "quoted from the documents" not in written_html


def test_a_low_confidence_answer_says_so_above_its_text() -> None:
    citation = cite(1, text="The drills were suspended.")
    sure = Answer("Why?", "The drills were suspended. [1]", ANSWERED, (citation,), (), "extractive")
    unsure = replace(sure, decision=Decision("low_confidence", "P unanswerable 0.45"))
    assert "Low confidence" not in render_chat(
        [turn_from_answer("Why?", sure, [Source(citation)])], 1
    )
    html = render_chat([turn_from_answer("Why?", unsure, [Source(citation)])], 1)
    assert html.index("Low confidence") < html.index("The drills were suspended.")
    assert unsure.to_json()["low_confidence"] is True and sure.to_json()["low_confidence"] is False
    assert (
        unsure.to_json()["decision"] == "low_confidence"
        and sure.to_json()["decision"] == "answered"
    )


def test_the_empty_chat_explains_itself() -> None:
    assert "Add documents (.txt, .md, .html, .pdf, .docx)" in render_chat([], 0)
    assert "3 documents" in render_chat([], 3)


# -- sources: the sentence inside its paragraph ---------------------------------------------------

DOC = (
    "Title line\n\nFirst sentence here. The cited sentence is this one. Last one.\n\n"
    "Another paragraph."
)


def test_paragraph_context_is_bounded_by_blank_lines() -> None:
    start = DOC.index("The cited")
    end = DOC.index("Last one.") - 1
    before, after = paragraph_context(DOC, start, end)
    assert before == "First sentence here. "
    assert after == " Last one."


def test_long_blocks_fall_back_to_the_line_and_are_trimmed() -> None:
    line = "word " * 400
    doc = f"{line}\nBefore it. Target sentence. After it.\n{line}"
    start = doc.index("Target")
    before, after = paragraph_context(doc, start, start + len("Target sentence."))
    assert before == "Before it. " and after == " After it."
    long_line = "lead " * 300 + "Target. " + "tail " * 300
    s = long_line.index("Target")
    before, after = paragraph_context(long_line, s, s + 7)
    assert before.startswith("…") and after.endswith("…")
    assert len(before) <= 601 and len(after) <= 601


def test_source_keeps_offsets_honest() -> None:
    start = DOC.index("The cited")
    text = "The cited sentence is this one."
    good = make_source(cite(1, start=start, text=text), DOC)
    assert good.found and good.before.endswith("here. ")
    html = render_source(0, Turn("Q", "A [1]", "answer", [good]), 1)
    assert f'<mark class="rc-hl" data-sentence="a.txt#s1">{text}</mark>' in html
    assert "First sentence here." in html and "Last one." in html
    stale = make_source(cite(1, start=start, text=text), DOC.replace("cited", "CITED"))
    assert not stale.found
    assert "has changed" in render_source(0, Turn("Q", "A [1]", "answer", [stale]), 1)
    gone = make_source(cite(1, start=start, text=text), None)
    assert not gone.found


def test_unknown_citation_shows_the_placeholder() -> None:
    turn = Turn("Q", "A [1]", "answer", [source(1)])
    assert "Click a citation" in render_source(0, turn, 9)


# -- uploads --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("notes.md", "notes.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.MD", "evil.md"),
        (".hidden.txt", "hidden.txt"),
        ("a b<c>|d?.TXT", "a b_c_d.txt"),
        ("Vardø fyr.md", "Vardø fyr.md"),
        ("  spaced  name .txt", "spaced name.txt"),
        (".txt", "document.txt"),
        ("x" * 300 + ".md", "x" * 80 + ".md"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


@pytest.mark.parametrize("name", ["sheet.xlsx", "archive.tar.gz", "README", "", "notes.md.exe"])
def test_only_formats_we_read_are_accepted(name: str) -> None:
    with pytest.raises(UploadRejected, match=r"only \.txt, \.md, \.html, \.htm, \.pdf, \.docx"):
        safe_filename(name)
    for ok in ("Report.PDF", "page.htm", "page.html", "letter.docx"):
        assert safe_filename(ok) == ok.rsplit(".", 1)[0] + "." + ok.rsplit(".", 1)[1].lower()


def test_check_upload_messages() -> None:
    doc = check_upload("../a.txt", b"Line one.\r\nLine two.", 100)
    assert doc.doc_id == "a.txt" and doc.text == "Line one.\nLine two."
    with pytest.raises(UploadRejected, match="at most 100 bytes"):
        check_upload("big.txt", b"x" * 101, 100)
    with pytest.raises(UploadRejected, match="binary"):
        check_upload("b.txt", b"ab\x00cd", 100)
    with pytest.raises(UploadRejected, match="not UTF-8"):
        check_upload("c.txt", "café".encode("latin-1"), 100)
    with pytest.raises(UploadRejected, match="empty"):
        check_upload("d.md", b" \n\n", 100)
    # the content must be what the name says
    with pytest.raises(UploadRejected, match=r"named \.pdf but its content is plain text"):
        check_upload("fake.pdf", b"just text", 100)
    with pytest.raises(UploadRejected, match=r"binary file \(a PDF\)"):
        check_upload("fake.txt", b"%PDF-1.7\n\x00\x01", 100)
    with pytest.raises(UploadRejected, match=r"named \.docx but its content is a ZIP archive"):
        check_upload("fake.docx", b"PK\x03\x04junk", 100)


def test_human_size() -> None:
    assert human_size(999) == "999 bytes"
    assert human_size(2_000_000) == "2 MB"
    assert human_size(2_500_000) == "2.5 MB"
    assert human_size(100_000) == "100 KB"
    assert human_size(1000) == "1 KB" and human_size(1500) == "1.5 KB"


# -- launch safety --------------------------------------------------------------------------------


def test_loopback_needs_nothing_other_addresses_need_credentials() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host) and exposure_problem(host, None, False) == ""
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.com"):
        assert not is_loopback(host)
        assert "RAG_AUTH=user:password" in exposure_problem(host, None, False)
        assert exposure_problem(host, ("u", "p"), False) == ""
        assert exposure_problem(host, None, True) == ""


def test_parse_auth() -> None:
    assert parse_auth(None) is None and parse_auth(" ") is None
    assert parse_auth("ann:pa:ss word") == ("ann", "pa:ss word")
    for bad in ("nopassword", ":pw", "user:"):
        with pytest.raises(SettingsError, match="RAG_AUTH must look like user:password"):
            parse_auth(bad)


def test_port_problem_names_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert "already in use" in port_problem("127.0.0.1", port)
    assert port_problem("127.0.0.1", port) == ""


def test_main_refuses_an_open_address_before_loading_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RAG_AUTH", raising=False)
    monkeypatch.delenv("RAG_ALLOW_UNAUTHENTICATED", raising=False)
    assert main(["--host", "0.0.0.0"]) == 2
    assert "error: refusing to serve on 0.0.0.0" in capsys.readouterr().err
    monkeypatch.setenv("RAG_AUTH", "no-colon")
    assert main([]) == 2
    assert "error: RAG_AUTH must look like user:password" in capsys.readouterr().err
    monkeypatch.delenv("RAG_AUTH")
    monkeypatch.setenv("RAG_PORT", "not-a-port")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid setting RAG_PORT") and "Traceback" not in err


# -- the page's files -----------------------------------------------------------------------------


def test_style_and_scripts_ship_as_package_files() -> None:
    from rag.web.page import static_text

    assert ".rc-cite" in static_text("chat.css") and "mark.rc-hl" in static_text("chat.css")
    for name in ("chat.js", "sources.js"):
        # gradio only offers the .cite event when the script names it in quotes
        assert "trigger('cite'" in static_text(name)

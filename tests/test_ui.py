"""The chat page without a browser: escaping, rendering, upload checks, launch safety, and the
page's behaviour (app.ChatApp) over a small corpus with the fake embedder."""

from __future__ import annotations

import importlib.util
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Answer, Citation
from rag.ui import (
    Source,
    Turn,
    UploadRejected,
    check_upload,
    esc,
    exposure_problem,
    human_size,
    is_loopback,
    make_source,
    paragraph_context,
    parse_auth,
    render_chat,
    render_documents,
    render_notice,
    render_source,
    render_text,
    safe_filename,
)
from tests.conftest import ROOT
from tests.fakes import HashingEmbedder

HOSTILE = (
    '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> '
    "${window.__pwned=1} {{constructor.constructor('x')()}} `tick` ' \" &amp;"
)


def load_app() -> ModuleType:
    if "app" in sys.modules:
        return sys.modules["app"]
    spec = importlib.util.spec_from_file_location("app", ROOT / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    return module


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


# -- escaping and rendering -----------------------------------------------------------------------


def test_esc_makes_markup_and_templates_inert() -> None:
    out = esc(HOSTILE)
    inert(out)
    assert "&lt;script&gt;" in out and "&quot;" in out and "&#x27;" in out
    assert "&amp;amp;" in out  # already-escaped text stays literal, not decoded


def test_markers_become_buttons_only_for_known_citations() -> None:
    src = [Source(1, 'we"ird<doc>.txt', "d#s0", 0, 1, "x")]
    html = render_text("Claim one. [1] Claim two. [7]", 3, src, clickable=True)
    assert html.count("<button") == 1
    assert 'data-turn="3" data-n="1"' in html
    assert "we&quot;ird&lt;doc&gt;.txt" in html  # the title attribute cannot be broken out of
    assert '<span class="rc-cite rc-cite-plain">7</span>' in html
    assert "<button" not in render_text("Draft [1]", 0, src, clickable=False)


def test_answer_refusal_error_and_pending_look_different() -> None:
    answer = Turn("Q?", "Because. [1]", "answer", [Source(1, "a.txt", "a#s0", 0, 8, "Because.")])
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
    src = Source(1, HOSTILE + ".txt", "d#s0", 0, len(HOSTILE), HOSTILE, HOSTILE, HOSTILE)
    turns = [
        Turn(HOSTILE, HOSTILE + " [1]", "answer", [src], "extractive"),
        Turn(HOSTILE, HOSTILE, "error"),
        Turn(HOSTILE, HOSTILE, "streaming"),
    ]
    inert(render_chat(turns, 1))
    inert(render_source(0, turns[0], 1))
    inert(render_documents([], []))
    inert(render_notice([("error", HOSTILE)]))
    from rag.documents import Skipped
    from rag.ui import DocRow

    inert(render_documents([DocRow(HOSTILE, 10, 1)], [Skipped(HOSTILE, HOSTILE)]))


def test_the_empty_chat_explains_itself() -> None:
    assert "Add .txt or .md files" in render_chat([], 0)
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
    turn = Turn("Q", "A [1]", "answer", [Source(1, "a.txt", "a#s0", 0, 1, "x")])
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


@pytest.mark.parametrize("name", ["report.pdf", "archive.tar.gz", "README", "", "notes.md.exe"])
def test_only_txt_and_md_are_accepted(name: str) -> None:
    with pytest.raises(UploadRejected, match=r"only \.txt and \.md"):
        safe_filename(name)


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
        with pytest.raises(ValueError, match="user:password"):
            parse_auth(bad)


def test_port_problem_names_a_busy_port() -> None:
    import socket

    app = load_app()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert "already in use" in app.port_problem("127.0.0.1", port)
    assert app.port_problem("127.0.0.1", port) == ""


def test_main_refuses_an_open_address_before_loading_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = load_app()
    monkeypatch.delenv("RAG_AUTH", raising=False)
    monkeypatch.delenv("RAG_ALLOW_UNAUTHENTICATED", raising=False)
    assert app.main(["--host", "0.0.0.0"]) == 2
    assert "refusing to serve on 0.0.0.0" in capsys.readouterr().err
    monkeypatch.setenv("RAG_AUTH", "no-colon")
    assert app.main([]) == 2
    assert "user:password" in capsys.readouterr().err


# -- the page's behaviour over a small corpus -----------------------------------------------------

NEWS = (
    "The naval drills were suspended after a 2018 dispute over a flag.\n"
    "The last drills were held in 2017 near Busan.\n"
    "The ministers met at Yokosuka on January 30.\n"
)


@pytest.fixture
def chat(settings: Settings) -> Any:
    (settings.docs_dir / "news.txt").write_text(NEWS, encoding="utf-8")
    app = load_app()
    s = settings.model_copy(update={"max_upload_bytes": 1000})
    c = app.ChatApp(s, Pipeline(s, embedder=HashingEmbedder()))
    c.ingest()
    return c


def final(chat: Any, question: str, turns: list[Turn] | None = None) -> list[Turn]:
    steps = list(chat.chat(question, turns or [], "extractive", 6))
    assert steps[0][0][-1].status == "pending" and steps[0][1] == ""
    assert steps[-1][1] == "done"
    result: list[Turn] = steps[-1][0]
    return result


def test_chat_answers_with_sources_in_their_paragraph(chat: Any) -> None:
    turns = final(chat, "Why were the naval drills suspended?")
    turn = turns[-1]
    assert turn.status == "answer" and turn.sources
    src = next(s for s in turn.sources if "2018 dispute" in s.text)
    assert NEWS[src.start : src.end] == src.text and src.found
    assert src.doc_id == "news.txt"


def test_chat_follow_up_uses_the_history(chat: Any) -> None:
    turns = final(chat, "Why were the naval drills suspended?")
    turns = final(chat, "When were they last held?", turns)
    assert turns[-1].status == "answer"
    assert "2017" in turns[-1].text


def test_chat_errors_are_friendly_messages(chat: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    turns = final(chat, "x" * 600)
    assert turns[-1].status == "error" and turns[-1].label == "Please rephrase"
    assert turns[-1].text.startswith("The question is 600 characters long")

    def boom(*args: object) -> None:
        raise ZeroDivisionError("internal detail")

    monkeypatch.setattr(chat.pipeline, "retrieve", boom)
    turns = final(chat, "Why were the drills suspended?")
    assert turns[-1].status == "error"
    assert "internal detail" not in turns[-1].text and "Traceback" not in turns[-1].text

    def rag_boom(*args: object) -> None:
        raise RagError("cannot reach the Chroma server; start it")

    monkeypatch.setattr(chat.pipeline, "retrieve", rag_boom)
    assert final(chat, "Why?")[-1].text == "Cannot reach the Chroma server; start it."


def test_chat_shows_the_final_text_not_the_draft(chat: Any) -> None:
    class Redrafting:
        name = "llm"

        def stream(self, question: str, evidence: Any) -> Any:
            yield "A draft that will be replaced"
            yield Answer(question, "The verified answer.", False, (), tuple(evidence), "llm")

    chat._writers["llm"] = Redrafting()
    steps = list(chat.chat("Why were the naval drills suspended?", [], "llm", 6))
    assert any(t[-1].text == "A draft that will be replaced" for t, _ in steps[1:-1])
    assert steps[-1][0][-1].text == "The verified answer."


def test_top_k_and_writer_come_from_the_session(chat: Any) -> None:
    pieces = list(chat.answer("Why were the naval drills suspended?", [], "extractive", 1))
    evidence = {e.sentence.id for e in pieces[-1].evidence}
    chunks = chat.pipeline.index.corpus.chunks.values()
    assert any(evidence <= set(c.sentence_ids) for c in chunks)  # one chunk retrieved
    assert chat.pipeline.settings.top_k == chat.settings.top_k  # shared settings untouched
    assert chat.pipeline.writer is chat.writer("extractive")
    with pytest.raises(RagError, match="unknown answer writer"):
        chat.writer("gpt-17")


def test_api_answer_is_the_cli_json(chat: Any) -> None:
    data = chat.api_answer("Why were the naval drills suspended?")
    assert set(data) == {"question", "answer", "refused", "citations"}
    for c in data["citations"]:
        assert NEWS[c["start"] : c["end"]] == c["text"]


def test_upload_good_and_bad_files(chat: Any, tmp_path: Path) -> None:
    up = tmp_path / "uploads"
    up.mkdir()
    good = up / "lighthouse.md"
    good.write_text("The lighthouse was painted red in 1921.\n", encoding="utf-8")
    pdf = up / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    big = up / "big.txt"
    big.write_text("word " * 500, encoding="utf-8")
    binary = up / "blob.txt"
    binary.write_bytes(b"\x00\x01" * 10)
    calls: list[Any] = []
    notices = chat.add_files(
        [str(good), str(pdf), str(big), str(binary)],
        lambda *a, **k: calls.append((a, k)),
    )
    kinds = [k for k, _ in notices]
    text = " | ".join(t for _, t in notices)
    assert kinds.count("error") == 3, notices
    assert "Added lighthouse.md." in text and "only .txt and .md" in text
    assert "at most 1 KB" in text and "binary" in text
    assert "1 added" in text
    assert calls  # progress was reported
    assert sorted(p.name for p in chat.settings.docs_dir.iterdir()) == ["lighthouse.md", "news.txt"]
    assert "lighthouse.md" in chat.pipeline.index.corpus.entries
    assert not good.exists()  # gradio's temporary copy is cleaned up
    # uploading the same name again updates it
    good.write_text("The lighthouse was painted white in 1950.\n", encoding="utf-8")
    assert chat.add_files([str(good)])[0] == ("ok", "Updated lighthouse.md.")


def test_remove_a_document(chat: Any) -> None:
    (chat.settings.docs_dir / "extra.txt").write_text("The kite was orange.\n", encoding="utf-8")
    assert "1 added" in chat.rescan()[0][1]
    notices = chat.remove_file("extra.txt")
    assert notices[0] == ("ok", "Removed extra.txt.")
    assert "extra.txt" not in chat.pipeline.index.corpus.entries
    assert not (chat.settings.docs_dir / "extra.txt").exists()
    assert chat.remove_file("../news.txt")[0][0] == "warn"  # only indexed documents
    assert chat.remove_file(None)[0][0] == "warn"
    # the last document can go too: the index becomes empty, the chat says so
    assert chat.remove_file("news.txt")[0] == ("ok", "Removed news.txt.")
    assert not chat.pipeline.index.corpus.entries
    assert chat.pipeline.index.collection("chunks").count() == 0


def test_no_documents_yet(settings: Settings) -> None:
    app = load_app()
    c = app.ChatApp(settings, Pipeline(settings, embedder=HashingEmbedder()))
    report = c.ingest()
    assert report.added == [] and not c.pipeline.index.corpus.entries
    turns = list(c.chat("Why?", [], "extractive", 6))[-1][0]
    assert turns[-1].status == "error" and "Documents tab" in turns[-1].text


def test_build_app_exposes_only_the_ask_endpoint(chat: Any) -> None:
    app = load_app()
    demo = app.build_app(chat.settings, chat)
    info = demo.get_api_info()
    assert list(info["named_endpoints"]) == ["/ask"]
    params = [p["parameter_name"] for p in info["named_endpoints"]["/ask"]["parameters"]]
    assert params == ["question", "history"]

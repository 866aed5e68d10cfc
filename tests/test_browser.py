"""The chat page in a real headless Chromium (Debian's `chromium`, driven by Playwright).

`python app.py` runs as a subprocess over a temporary copy of seeds/ (never the real folder),
with its own index folder and a free port. Screenshots go to artifacts/screenshots/.

Run: python -m pytest -m browser tests/test_browser.py   (needs `apt-get install chromium`
and `pip install playwright`; set RAG_REQUIRE_BROWSER=1 to fail instead of skip without them)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.appserver import MAX_UPLOAD, Server, start_app, stop_app
from tests.conftest import ROOT, SEED_DOC, SEEDS

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
ANSWER_TIMEOUT = 120_000  # ms

FINAL = ".rc-answer:not(.rc-streaming), .rc-refused, .rc-error"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_app(tmp_path_factory.mktemp("app"))
    yield srv
    stop_app(srv)
    output = srv.log.read_text()
    assert "Traceback" not in output, output


@dataclass
class Page:
    """A browser tab on the app that records what must never happen: requests leaving the
    machine and JavaScript errors."""

    page: Any
    external: list[str]
    errors: list[str]

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def ask(self, question: str) -> Any:
        """Ask and wait for the final answer bubble of the new turn; returns its locator."""
        return self.answer_of(self.send(question))

    def send(self, question: str) -> int:
        """Ask without waiting; returns the new turn's index."""
        n = int(self.page.locator("#rc-chat .rc-turn").count())
        box = self.page.locator("#rc-question textarea")
        box.fill(question)
        box.press("Enter")
        return n

    def answer_of(self, n: int) -> Any:
        """Wait for turn n's final answer; returns the turn's locator."""
        turn = self.page.locator("#rc-chat .rc-turn").nth(n)
        turn.locator(FINAL).wait_for(timeout=ANSWER_TIMEOUT)
        # the input is given back once the answer is final
        self.page.wait_for_function(
            "() => !document.querySelector('#rc-question textarea').disabled"
        )
        return turn

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name).click()

    def upload(self, *files: Any) -> str:
        """Upload files in the Documents tab; returns the notice shown afterwards."""
        self.tab("Documents")
        old = self.page.locator("#rc-notice").inner_text()
        self.page.locator("#rc-upload input[type=file]").set_input_files(list(files))
        self.page.wait_for_function(
            "(old) => { const n = document.querySelector('#rc-notice');"
            " return n && n.innerText.trim() && n.innerText !== old; }",
            arg=old,
            timeout=ANSWER_TIMEOUT,
        )
        return str(self.page.locator("#rc-notice").inner_text())


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    host = server.url.rstrip("/")
    p = Page(tab, [], [])
    tab.on(
        "request",
        lambda r: None if r.url.startswith((host, "data:", "blob:")) else p.external.append(r.url),
    )
    tab.on("pageerror", lambda e: p.errors.append(str(e)))
    tab.goto(server.url)
    tab.locator("#rc-chat .rc-chat").wait_for()
    yield p
    context.close()
    assert p.external == [], f"the page fetched from outside the machine: {p.external}"
    assert p.errors == [], f"JavaScript errors: {p.errors}"


# -- the chat -------------------------------------------------------------------------------------

WATCH_STATES = """() => {
  window.__rcStates = new Set();
  const chat = document.querySelector('#rc-chat');
  const seen = () => chat.querySelectorAll('.rc-pending, .rc-streaming, .rc-answer')
    .forEach((el) => el.classList.forEach((c) => window.__rcStates.add(c)));
  new MutationObserver(seen).observe(chat, {subtree: true, childList: true, attributes: true});
}"""


@pytest.mark.browser
def test_ask_click_citation_and_follow_up(page: Page) -> None:
    pg = page.page
    page.shot("01-start")
    pg.evaluate(WATCH_STATES)
    turn = page.ask("Why were the drills suspended?")
    states = pg.evaluate("() => [...window.__rcStates]")
    assert "rc-pending" in states, states  # the answer was under way before it was final
    answer = turn.locator(".rc-answer")
    assert answer.count() == 1, turn.inner_text()
    cites = answer.locator("button.rc-cite")
    assert cites.count() >= 1
    assert "Rising Sun Flag" in answer.inner_text()
    page.shot("02-answer-with-citations")

    # click the citation markers until the one for the flag dispute shows in the panel
    mark = pg.locator("#rc-sources mark.rc-hl")
    for i in range(cites.count()):
        cites.nth(i).click()
        mark.wait_for()
        pg.wait_for_function(
            "(n) => document.querySelector('#rc-sources .rc-src-head .rc-cite')?.innerText === n",
            arg=cites.nth(i).inner_text(),
        )
        if "Rising Sun Flag" in mark.inner_text():
            break
    assert "2018 dispute over Japan hoisting the Rising Sun Flag" in mark.inner_text()
    # highlighted inside its paragraph, under the document's name
    paragraph = pg.locator("#rc-sources .rc-para").inner_text()
    assert len(paragraph) > len(mark.inner_text())
    assert "They agreed to resume joint naval search and rescue exercises" in paragraph
    assert pg.locator("#rc-sources .rc-doc").inner_text() == SEED_DOC
    assert mark.is_visible()
    background = mark.evaluate("m => getComputedStyle(m).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    page.shot("03-citation-clicked-source-highlighted")

    # the follow-up leans on the conversation
    follow = page.ask("When were they last held?")
    assert follow.locator(".rc-answer").count() == 1, follow.inner_text()
    assert "2017" in follow.locator(".rc-answer .rc-text").inner_text()
    assert follow.locator("button.rc-cite").count() >= 1
    page.shot("04-follow-up")

    # a question the documents don't answer is refused, and looks like it
    refused = page.ask("What is the capital of France?")
    assert refused.locator(".rc-refused").count() == 1
    assert "The documents don't say." in refused.inner_text()
    assert refused.locator("button.rc-cite").count() == 0
    page.shot("05-refusal")

    # bad input becomes a friendly message, never a traceback
    error = page.ask("why " * 200)
    assert error.locator(".rc-error").count() == 1
    text = error.inner_text()
    assert "characters long" in text and "Traceback" not in text
    page.shot("06-friendly-error")

    # a new chat starts empty; the follow-up context is gone with it
    pg.locator("#rc-new").click()
    pg.locator("#rc-chat .rc-empty").wait_for()


@pytest.mark.browser
def test_upload_a_markdown_file_and_ask_about_it(page: Page, tmp_path: Path) -> None:
    doc = tmp_path / "lighthouse.md"
    doc.write_text(
        "# Lighthouse notes\n\nThe Vardø lighthouse was painted red in 1921.\n\n"
        "Its keeper, Ingrid Solberg, kept a weather log for forty years.\n",
        encoding="utf-8",
    )
    notice = page.upload(str(doc))
    assert "Added lighthouse.md" in notice, notice
    assert "lighthouse.md" in page.page.locator("#rc-docs").inner_text()
    assert "2 documents" in page.page.locator("#rc-header").inner_text()
    page.shot("07-uploaded-markdown")
    turn = page.ask("Who kept a weather log at the lighthouse?")
    assert "Ingrid Solberg" in turn.locator(".rc-answer").inner_text()
    turn.locator("button.rc-cite").first.click()
    page.page.locator("#rc-sources mark.rc-hl").wait_for()
    assert page.page.locator("#rc-sources .rc-doc").inner_text() == "lighthouse.md"
    page.shot("08-answer-from-upload")


@pytest.mark.browser
def test_bad_uploads_get_clear_messages(page: Page, server: Server, tmp_path: Path) -> None:
    before = sorted(p.name for p in server.docs.iterdir())
    cases = [
        ({"name": "report.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n"}, ".pdf"),
        ({"name": "data.txt", "mimeType": "text/plain", "buffer": b"ab\x00\x01" * 50}, "binary"),
        (
            {"name": "latin.txt", "mimeType": "text/plain", "buffer": "café".encode("latin-1")},
            "UTF-8",
        ),
        ({"name": "empty.md", "mimeType": "text/markdown", "buffer": b"  \n"}, "empty"),
        ({"name": "big.txt", "mimeType": "text/plain", "buffer": b"word " * MAX_UPLOAD}, "at most"),
    ]
    for i, (payload, expected) in enumerate(cases):
        notice = page.upload(payload)
        assert expected in notice, (payload["name"], notice)
        assert "Traceback" not in notice
        page.shot(f"09-bad-upload-{i + 1}-{payload['name']}")
    assert sorted(p.name for p in server.docs.iterdir()) == before  # nothing was saved


@pytest.mark.browser
def test_upload_names_cannot_escape_the_docs_folder(page: Page, server: Server) -> None:
    payload = {
        "name": "../../escape.md",
        "mimeType": "text/markdown",
        "buffer": b"The escape test document mentions a purple walrus.\n",
    }
    page.upload(payload)
    assert not (server.docs.parent / "escape.md").exists()
    assert not (server.docs.parent.parent / "escape.md").exists()
    assert (server.docs / "escape.md").exists()
    (server.docs / "escape.md").unlink()


@pytest.mark.browser
def test_script_injection_document_stays_text(page: Page, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.txt"
    hostile.write_text(
        "Security notes.\n\n"
        "The zebra festival uses <script>window.__pwned=1</script> banners and "
        '<img src=x onerror="window.__pwned=1"> flags, plus ${window.__pwned=1} and '
        "{{constructor.constructor('window.__pwned=1')()}} markers.\n\n"
        "The zebra festival takes place every August in Quokkaville.\n",
        encoding="utf-8",
    )
    page.upload(str(hostile))
    pg = page.page
    assert "hostile.txt" in pg.locator("#rc-docs").inner_text()
    turn = page.ask("What banners and flags does the zebra festival use?")
    text = turn.locator(".rc-answer .rc-text").inner_text()
    assert "<script>window.__pwned=1</script>" in text
    assert '<img src=x onerror="window.__pwned=1">' in text
    turn.locator("button.rc-cite").first.click()
    mark = pg.locator("#rc-sources mark.rc-hl")
    mark.wait_for()
    assert '<img src=x onerror="window.__pwned=1">' in mark.inner_text()
    pg.wait_for_timeout(500)  # give any injected handler the chance to run
    assert pg.evaluate("() => typeof window.__pwned") == "undefined"
    assert (
        pg.locator("#rc-chat img, #rc-sources img, #rc-chat script, #rc-sources script").count()
        == 0
    )
    page.shot("10-script-injection-escaped")


@pytest.mark.browser
def test_remove_a_document(page: Page, server: Server) -> None:
    (server.docs / "to-remove.txt").write_text(
        "The removal test document says the orange kite flew over Lisbon.\n", encoding="utf-8"
    )
    pg = page.page
    page.tab("Documents")
    pg.locator("#rc-rescan").click()
    pg.locator("#rc-docs", has_text="to-remove.txt").wait_for(timeout=ANSWER_TIMEOUT)
    dropdown = pg.locator("#rc-remove-choice input")
    dropdown.click()
    pg.get_by_role("option", name="to-remove.txt").click()
    pg.locator("#rc-remove").click()
    pg.locator("#rc-confirm-yes").wait_for()
    page.shot("11-remove-confirm")
    pg.locator("#rc-confirm-yes").click()
    pg.locator("#rc-notice", has_text="Removed to-remove.txt").wait_for(timeout=ANSWER_TIMEOUT)
    assert "to-remove.txt" not in pg.locator("#rc-docs").inner_text()
    assert not (server.docs / "to-remove.txt").exists()
    page.shot("12-removed")


@pytest.mark.browser
def test_settings_switch_to_extractive_and_fewer_sources(page: Page) -> None:
    pg = page.page
    page.tab("Settings")
    pg.locator("#rc-writer").get_by_label("Extractive", exact=False).check()
    pg.locator("#rc-topk input[type=number]").fill("2")
    pg.locator("#rc-topk input[type=number]").press("Enter")
    page.shot("13-settings")
    turn = page.ask("Why were the drills suspended?")
    assert turn.locator(".rc-answer").count() == 1
    assert "quoted from the documents" in turn.inner_text()


# -- the API and launch safety ------------------------------------------------------------------


def test_api_answers_with_the_cli_json_contract(server: Server) -> None:
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    result = client.predict("Why were the drills suspended?", api_name="/ask")
    assert set(result) == {
        "question",
        "searched",
        "answer",
        "refused",
        "low_confidence",
        "decision",
        "reason",
        "citations",
    }
    assert result["searched"] == result["question"]  # a first question is searched as asked
    assert not result["refused"] and result["citations"]
    text = (server.docs / SEED_DOC).read_text(encoding="utf-8")
    for c in result["citations"]:
        assert text[c["start"] : c["end"]] == c["text"]
        assert f"[{c['n']}]" in result["answer"]
    follow = client.predict(
        "When were they last held?", ["Why were the drills suspended?"], api_name="/ask"
    )
    assert "2017" in follow["answer"]
    assert follow["question"] == "When were they last held?" and "drills" in follow["searched"]
    with pytest.raises(Exception, match="question is empty"):
        client.predict("   ", api_name="/ask")


def test_refuses_to_serve_off_loopback_without_credentials(tmp_path: Path) -> None:
    env = {**os.environ, "RAG_HOST": "0.0.0.0", "RAG_CACHE_DIR": str(tmp_path)}
    env.pop("RAG_AUTH", None)
    env.pop("RAG_ALLOW_UNAUTHENTICATED", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "RAG_AUTH=user:password" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.browser
def test_credentials_protect_the_page_and_the_api(browser: Any, tmp_path: Path) -> None:
    srv = start_app(tmp_path, {"RAG_AUTH": "reader:s3cret pass"})
    try:
        from gradio_client import Client

        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises several kinds
            Client(srv.url, verbose=False).predict(
                "Why were the drills suspended?", api_name="/ask"
            )
        client = Client(srv.url, auth=("reader", "s3cret pass"), verbose=False)
        assert client.predict("Why were the drills suspended?", api_name="/ask")["citations"]

        context = browser.new_context(viewport={"width": 1360, "height": 900})
        pg = context.new_page()
        pg.goto(srv.url)
        login = pg.get_by_role("button", name="Login")
        pg.get_by_label("username").fill("reader")
        pg.get_by_label("password").fill("wrong")
        login.click()
        pg.get_by_text("Incorrect", exact=False).first.wait_for()
        assert pg.locator("#rc-chat").count() == 0
        pg.goto(srv.url)
        pg.get_by_label("username").fill("reader")
        pg.get_by_label("password").fill("s3cret pass")
        pg.get_by_role("button", name="Login").click()
        pg.locator("#rc-chat .rc-chat").wait_for()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SCREENSHOTS / "14-signed-in.png"))
        context.close()
    finally:
        stop_app(srv)


# -- documents of other formats: a PDF dropped into the folder, Word and HTML uploaded -------


@pytest.mark.browser
def test_a_pdf_in_the_folder_is_cited_on_its_page(browser: Any, tmp_path: Path) -> None:
    from tests.files import make_docx, make_html, make_pdf

    shutil.copytree(SEEDS, tmp_path / "docs")
    make_pdf(
        tmp_path / "docs" / "lighthouse-log.pdf",
        [
            ["Lighthouse log", "The Vardø light was first lit in 1896 by the harbour board."],
            ["The tower was painted red in 1921 and white again in 1950."],
            [
                "Storms",
                "Between 1901 and 1950 the keepers recorded 212 storms strong enough to close "
                "the harbour, most of them in January.",
            ],
        ],
    )
    srv = start_app(tmp_path, copy_seeds=False)
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        tab.goto(srv.url)
        tab.locator("#rc-chat .rc-chat").wait_for()
        pg = Page(tab, [], errors)
        turn = pg.ask("How many storms did the keepers record?")
        assert "212 storms" in turn.locator(".rc-answer").inner_text()
        turn.locator("button.rc-cite").first.click()
        hl = tab.locator("#rc-sources mark.rc-page-hl").first
        hl.wait_for()
        assert tab.locator("#rc-sources .rc-doc").inner_text() == "lighthouse-log.pdf"
        assert tab.locator("#rc-sources .rc-doc-page").inner_text() == "page 3"
        assert tab.locator("#rc-sources .rc-page-no").inner_text().startswith("Page 3 of 3")
        img = tab.locator("#rc-sources img.rc-page-img")
        assert img.evaluate("i => i.complete && i.naturalWidth > 500")
        # the marked lines lie on the page image, near its top, where page 3's text is
        page_box, marks = img.bounding_box(), tab.locator("#rc-sources mark.rc-page-hl")
        assert marks.count() == 2  # the sentence wraps over two lines
        for i in range(marks.count()):
            box = marks.nth(i).bounding_box()
            assert (
                page_box["x"] <= box["x"]
                and box["x"] + box["width"] <= page_box["x"] + page_box["width"]
            )
            assert 0.03 < (box["y"] - page_box["y"]) / page_box["height"] < 0.2
        assert "212 storms" in tab.locator("#rc-sources mark.rc-hl").inner_text()
        hl.scroll_into_view_if_needed()
        pg.shot("15-pdf-citation-on-its-page")

        # a Word file and a web page uploaded in the chat are read; a fake PDF is refused
        make_docx(
            tmp_path / "minutes.docx",
            "Harbour board minutes",
            ["The board voted to buy a new pilot boat for 40,000 crowns."],
            [["Item", "Cost"], ["Pilot boat", "40,000 crowns"]],
        )
        make_html(tmp_path / "notice.html", "Ferry notice", ["The winter ferry leaves at 7:15."])
        fake = tmp_path / "scan.pdf"
        fake.write_text("not a pdf at all", encoding="utf-8")
        notice = pg.upload(str(tmp_path / "minutes.docx"), str(tmp_path / "notice.html"), str(fake))
        assert "Added minutes.docx" in notice and "Added notice.html" in notice, notice
        assert "scan.pdf can't be added: named .pdf but its content is plain text" in notice
        turn = pg.ask("What did the board vote to buy?")
        assert "pilot boat" in turn.locator(".rc-answer").inner_text()
        turn.locator("button.rc-cite").first.click()
        tab.locator("#rc-sources mark.rc-hl").wait_for()
        assert tab.locator("#rc-sources .rc-doc").inner_text() == "minutes.docx"
        assert tab.locator("#rc-sources .rc-page").count() == 0
        assert errors == []
        context.close()
    finally:
        stop_app(srv)
    assert "Traceback" not in srv.log.read_text()


# -- replicas: two app processes on one Chroma server ----------------------------------------


@pytest.mark.browser
def test_two_replicas_on_one_chroma_server_share_the_index(
    browser: Any, tmp_path: Path, chroma_port: int
) -> None:
    """A document uploaded through one app is answered by the other, without a restart, within
    its refresh interval; neither holds index files of its own but the keyword cache."""
    from gradio_client import Client

    server = {"RAG_CHROMA_HOST": "127.0.0.1", "RAG_CHROMA_PORT": str(chroma_port)}
    shutil.copytree(SEEDS, tmp_path / "docs")
    first = start_app(tmp_path / "a", {**server, "RAG_DOCS_DIR": str(tmp_path / "docs")}, False)
    second = None
    try:
        second = start_app(
            tmp_path / "b",
            {**server, "RAG_DOCS_DIR": str(tmp_path / "docs"), "RAG_REFRESH_SECONDS": "1"},
            copy_seeds=False,
        )
        assert "0 added" in second.log.read_text()  # the first one had indexed the folder
        for srv in (first, second):
            assert not list((tmp_path / srv.log.parent.name / "cache").rglob("chroma"))
        ask = Client(second.url, verbose=False)
        before = ask.predict("Who kept a weather log at the lighthouse?", api_name="/ask")
        assert before["refused"] or "Solberg" not in before["answer"]

        context = browser.new_context(viewport={"width": 1360, "height": 900})
        tab = context.new_page()
        tab.goto(first.url)
        tab.locator("#rc-chat .rc-chat").wait_for()
        note = tmp_path / "lighthouse.md"
        note.write_text(
            "# Lighthouse notes\n\nThe Vardø lighthouse was painted red in 1921.\n\n"
            "Its keeper, Ingrid Solberg, kept a weather log for forty years.\n",
            encoding="utf-8",
        )
        assert "Added lighthouse.md" in Page(tab, [], []).upload(str(note))
        context.close()

        deadline = time.monotonic() + 30
        while True:  # the second app takes it in at its next refresh (1 s here)
            after = ask.predict("Who kept a weather log at the lighthouse?", api_name="/ask")
            if "Solberg" in after["answer"] or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert "Ingrid Solberg" in after["answer"], after
        assert after["citations"][0]["doc_id"] == "lighthouse.md"
    finally:
        stop_app(first)
        if second is not None:
            stop_app(second)
    for srv in (first, second):
        assert srv is not None and "Traceback" not in srv.log.read_text()


# -- conversations, as a new user has them: the LLM writes and rewrites -----------------------


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app with its defaults: the LLM writes answers and rewrites follow-ups."""
    srv = start_app(
        tmp_path_factory.mktemp("app-llm"), {"RAG_ANSWERER": "auto", "RAG_CONDENSE": "auto"}
    )
    yield srv
    stop_app(srv)
    output = srv.log.read_text()
    assert "Traceback" not in output, output


def _open(browser: Any, server: Server) -> tuple[Any, Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    p = Page(tab, [], [])
    tab.on("pageerror", lambda e: p.errors.append(str(e)))
    tab.goto(server.url)
    tab.locator("#rc-chat .rc-chat").wait_for()
    return context, p


def _cited_sentences(page: Page, turn: Any) -> list[str]:
    """The highlighted source sentence of each citation of a turn, by clicking them."""
    texts = []
    cites = turn.locator(".rc-answer button.rc-cite")
    for i in range(cites.count()):
        cites.nth(i).click()
        page.page.wait_for_function(
            "(n) => document.querySelector('#rc-sources .rc-src-head .rc-cite')?.innerText === n",
            arg=cites.nth(i).inner_text(),
        )
        texts.append(page.page.locator("#rc-sources mark.rc-hl").inner_text())
    return texts


@pytest.mark.browser
def test_a_conversation_with_follow_ups_and_two_users_at_once(
    browser: Any, llm_server: Server
) -> None:
    ctx_a, a = _open(browser, llm_server)
    ctx_b, b = _open(browser, llm_server)
    try:
        first = a.ask("Why were the drills suspended?")
        assert first.locator(".rc-answer").count() == 1, first.inner_text()
        b.ask("Which aircraft carrier did Ahn board?")

        second = a.ask("When were they last held?")
        assert "2017" in second.locator(".rc-answer .rc-text").inner_text(), second.inner_text()
        assert any("last ones in 2017" in s for s in _cited_sentences(a, second))
        searched = second.locator(".rc-searched").inner_text()
        assert searched.startswith("searched:") and "drill" in searched.lower()
        assert "carrier" not in searched.lower()  # the other user's conversation did not leak

        # both users ask at the same moment, each leaning on their own conversation
        third_n, other_n = a.send("Where did the ministers meet?"), b.send("Who did he meet there?")
        third, other = a.answer_of(third_n), b.answer_of(other_n)
        assert "Yokosuka" in third.locator(".rc-answer .rc-text").inner_text(), third.inner_text()
        assert any("Yokosuka" in s for s in _cited_sentences(a, third))
        a.shot("07-conversation-follow-ups")

        # the second user's follow-up was rewritten from their own conversation only
        searched_b = other.locator(".rc-searched").inner_text().lower()
        assert "ahn" in searched_b and "drill" not in searched_b, searched_b
        b.shot("08-second-user-own-conversation")

        # a new chat forgets: the same follow-up is now searched as asked
        a.page.locator("#rc-new").click()
        a.page.locator("#rc-chat .rc-empty").wait_for()
        fresh = a.ask("When were they last held?")
        assert fresh.locator(".rc-searched").count() == 0
    finally:
        ctx_a.close()
        ctx_b.close()
    assert a.errors == [] and b.errors == []

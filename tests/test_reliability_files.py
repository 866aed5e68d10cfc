"""Hostile files, by both roads: uploads through the chat (ChatSession.add_files, given the
temporary paths gradio saves uploads under) and files dropped into the docs folder (the sync
behind `rag ingest`, the chat's start-up and its re-scan).

Each case gets a clear message, nothing outside the docs folder is read or written (a canary
folder beside it is checked after every upload test), and the good files of the same batch
are indexed. Everything runs on the fake embedder; the last test goes through gradio's real
upload route over HTTP.
"""

from __future__ import annotations

import json
import os
import unicodedata
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from rag.engine import Engine
from rag.ingest.chunking import chunk_sentences
from rag.ingest.documents import readable_name, scan_documents
from rag.ingest.sentences import MAX_SENTENCE_CHARS, split_sentences
from rag.settings import Settings
from rag.web.render import Turn, render_documents, render_notice
from rag.web.session import ChatSession, Notice
from rag.web.uploads import safe_filename
from tests.conftest import free_port
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.reliability

NEWS = "The naval drills were suspended after a 2018 dispute over a flag.\n"
SECRET = "The vault password is swordfish, kept in the canary folder.\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x00\x00" + b"\x00" * 40
HTML = b"<!doctype html><html><body><p>Just a web page.</p></body></html>"
MAX_UPLOAD = 50_000


@dataclass
class World:
    """A docs folder with one document, a canary folder beside it that nothing may touch, and
    a place for uploads laid out as gradio saves them (each file in a folder of its own)."""

    root: Path
    docs: Path
    canary: Path
    uploads: Path
    chat: ChatSession

    def upload(self, name: str | bytes, content: bytes | str) -> str:
        folder = self.uploads / uuid.uuid4().hex
        folder.mkdir()
        raw_name = name if isinstance(name, bytes) else os.fsencode(name)
        path = os.path.join(os.fsencode(folder), raw_name)
        with open(path, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        return os.fsdecode(path)

    def add(self, *paths: str) -> list[Notice]:
        notices = self.chat.add_files(list(paths))
        for kind, text in notices:
            assert readable(text), (kind, text)
        return notices

    def indexed(self) -> set[str]:
        return set(self.chat.engine.store.corpus.entries)

    def in_docs(self) -> set[str]:
        return {p.relative_to(self.docs).as_posix() for p in self.docs.rglob("*")}


def readable(text: str) -> bool:
    """One printable line, valid Unicode, no bidi overrides: what a person can read."""
    text.encode("utf-8")  # no lone surrogates (a name that is not UTF-8)
    return text.isprintable() and not any(0x202A <= ord(c) <= 0x202E for c in text)


def snapshot(root: Path, skip: tuple[str, ...]) -> dict[str, tuple[bytes, int]]:
    """Every file under root outside the `skip` folders: its bytes and modification time."""
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in skip or path.is_dir():
            continue
        found[rel] = (path.read_bytes() if not path.is_symlink() else b"", path.lstat().st_mtime_ns)
    return found


def make_world(root: Path, docs: dict[str, str] | None = None) -> World:
    folder = root / "docs"
    folder.mkdir()
    for name, text in (docs if docs is not None else {"news.txt": NEWS}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    canary = root / "canary"
    canary.mkdir()
    (root / "uploads").mkdir()
    (canary / "secret.txt").write_text(SECRET, encoding="utf-8")
    (canary / "escape.txt").write_text("untouched\n", encoding="utf-8")
    (canary / "passwd.txt").write_text("untouched\n", encoding="utf-8")
    settings = Settings.load(
        docs_dir=folder,
        cache_dir=root / "cache",
        answerer="extractive",
        max_upload_bytes=MAX_UPLOAD,
    )
    chat = ChatSession(Engine(settings, embedder=HashingEmbedder()))
    chat.ingest()
    return World(root, folder, canary, root / "uploads", chat)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A World whose surroundings are checked after the test: nothing beside the docs folder
    was changed or created, and nothing is left in the uploads folder but empty folders."""
    w = make_world(tmp_path)
    before = snapshot(tmp_path, ("docs", "cache", "uploads"))
    top = sorted(p.name for p in tmp_path.iterdir())
    yield w
    assert snapshot(tmp_path, ("docs", "cache", "uploads")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == top
    assert not [p for p in w.uploads.rglob("*") if p.is_file()]  # gradio's copies removed


def final_turn(chat: ChatSession, question: str) -> Turn:
    steps = list(chat.chat(question, [], "extractive", 6))
    return steps[-1][0][-1]


def cited_text(turn: Turn) -> str:
    return " ".join(s.citation.text for s in turn.sources)


# -- the docs folder: links ------------------------------------------------------------------------


def test_links_in_the_docs_folder_are_not_followed_and_are_reported(tmp_path: Path) -> None:
    w = make_world(tmp_path, {"news.txt": NEWS, "sub/inner.txt": "placeholder"})
    os.symlink(w.canary / "secret.txt", w.docs / "leak.txt")
    os.symlink(w.canary, w.docs / "linked")
    os.symlink(w.docs / "news.txt", w.docs / "alias.txt")
    os.symlink(w.docs / "sub", w.docs / "sub-alias")
    os.symlink(w.root / "nowhere.txt", w.docs / "broken.md")
    os.symlink(w.canary / "secret.txt", w.docs / ".hidden-link.txt")  # hidden: ignored

    scan = scan_documents(w.docs)
    assert sorted(d.doc_id for d in scan.docs) == ["news.txt", "sub/inner.txt"]
    reasons = {s.doc_id: s.reason for s in scan.skipped}
    assert reasons == {
        "alias.txt": "a link to another file in the documents folder; not followed "
        "(that file is read under its own name)",
        "broken.md": "a broken link; not followed",
        "leak.txt": "a link to a file outside the documents folder; not followed "
        "(copy the file itself in)",
        "linked": "a link to a folder outside the documents folder; not followed "
        "(copy the folder itself in)",
        "sub-alias": "a link to a folder in the documents folder; not followed "
        "(its files are read where they are)",
    }

    notices = w.chat.rescan()
    assert ("warn", "Skipped leak.txt: " + reasons["leak.txt"] + ".") in notices
    assert not [s for s in w.chat.engine.store.corpus.sentences.values() if "swordfish" in s.text]
    assert "swordfish" not in cited_text(final_turn(w.chat, "What is the vault password?"))
    html = w.chat.documents_view()[0]
    assert "<b>leak.txt</b>: a link to a file outside the documents folder" in html


def test_a_file_swapped_for_a_link_after_listing_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is opened without following a link, so a swap between the listing and the
    read (a race) cannot read outside either."""
    from rag.ingest import documents

    w = make_world(tmp_path, {"news.txt": NEWS, "swap.txt": "An ordinary document.\n"})
    listed = documents.list_files(w.docs)
    (w.docs / "swap.txt").unlink()
    os.symlink(w.canary / "secret.txt", w.docs / "swap.txt")
    monkeypatch.setattr(documents, "list_files", lambda docs_dir: listed)
    scan = scan_documents(w.docs)
    assert [d.doc_id for d in scan.docs] == ["news.txt"]
    assert [(s.doc_id, s.reason) for s in scan.skipped] == [("swap.txt", "a link; not followed")]


# -- the docs folder: odd names, lying contents, no words ------------------------------------------


def test_odd_file_names_in_the_docs_folder_are_reported_readably(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    odd = [b"new\nline.txt", b"esc\x1b[31mred.txt", b"bad\xff\xfename.txt", b"tab\there.md"]
    odd.append("rtl\u202etxt.exe.md".encode())
    for name in odd:
        with open(os.path.join(os.fsencode(w.docs), name), "wb") as f:
            f.write(b"A document with an odd name mentions the blue heron.\n")
    (w.docs / "caf\u00e9 \u65e5\u672c.txt").write_text("The grey heron.\n", encoding="utf-8")

    notices = w.chat.rescan()
    assert w.indexed() == {"news.txt", "caf\u00e9 \u65e5\u672c.txt"}
    skipped = {s.doc_id: s.reason for s in w.chat.last_skipped}
    controls = "its name holds control characters (shown escaped); rename the file"
    assert skipped == {
        "bad\\xff\\xfename.txt": "its name is not valid UTF-8; rename the file",
        "esc\\x1b[31mred.txt": controls,
        "new\\nline.txt": controls,
        "rtl\\u202etxt.exe.md": controls,
        "tab\\there.md": controls,
    }
    for _, text in notices:
        assert readable(text), text
    html = render_documents(w.chat.doc_rows(), w.chat.last_skipped)
    assert readable(html) and "new\\nline.txt" in html
    json.dumps(html, ensure_ascii=False).encode("utf-8")  # what gradio sends the browser
    # a question afterwards: the heron of the odd files was never indexed
    assert "blue heron" not in cited_text(final_turn(w.chat, "Which heron is blue?"))


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("photo.txt", PNG, "binary file, not text; only .txt, .md, .html, .htm, .pdf, .docx"),
        ("letter.docx", ZIP, "named .docx but its content is a ZIP archive; rename it"),
        ("page.pdf", HTML, "named .pdf but its content is plain text; rename it"),
        ("scan.md", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary file (a PDF), not text"),
    ],
)
def test_a_file_whose_extension_lies_is_refused_by_both_roads(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    w = make_world(tmp_path)
    (w.docs / name).write_bytes(content)
    notices = w.chat.rescan()
    assert any(k == "warn" and t.startswith(f"Skipped {name}: {reason}") for k, t in notices)
    (w.docs / name).unlink()
    w.chat.rescan()

    good = w.upload("good.md", "The heron nests by the lake.\n")
    notices = w.add(w.upload(name, content), good)
    assert notices[0][0] == "error"
    assert notices[0][1].startswith(f"{name} can't be added: {reason}")
    assert ("ok", "Added good.md.") in notices
    assert w.indexed() == {"news.txt", "good.md"} and w.in_docs() == {"news.txt", "good.md"}


WORDLESS = {
    "punctuation.txt": "!!! ??? ... --- *** ;;; ''' \"\"\" ((( ))) ¿¡ …\n\n~~~\n",
    "emoji.md": "\U0001f600\U0001f389\U0001f525 \U0001f44d\U0001f3fd \u2764\ufe0f\n"
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 \u2728\u2728\n",
}
NO_WORDS = "no words to index: it holds only punctuation, symbols or emoji"


def test_a_document_without_words_is_skipped_by_both_roads(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    for name, text in WORDLESS.items():
        (w.docs / name).write_text(text, encoding="utf-8")
    scan = scan_documents(w.docs)
    assert {s.doc_id: s.reason for s in scan.skipped} == dict.fromkeys(WORDLESS, NO_WORDS)
    notices = w.chat.rescan()
    for name in WORDLESS:
        assert ("warn", f"Skipped {name}: {NO_WORDS}.") in notices
        (w.docs / name).unlink()

    paths = [w.upload(n, t) for n, t in WORDLESS.items()]
    notices = w.add(*paths, w.upload("ok.txt", "The heron nests by the lake.\n"))
    for name in WORDLESS:
        assert ("error", f"{name} can't be added: {NO_WORDS}.") in notices
    assert w.indexed() == {"news.txt", "ok.txt"}
    # questions afterwards, of words and of none: answered or refused, never a crash
    for question in ("What is there?", "Where does the heron nest?", "\U0001f600 ???"):
        turn = final_turn(w.chat, question)
        assert turn.status in ("answer", "refused", "error"), turn
        assert turn.text and "went wrong" not in turn.text
        assert "\U0001f600" not in cited_text(turn) and "!!!" not in cited_text(turn)


# -- a 2 MB line with no sentence end --------------------------------------------------------------


def filler(n_chars: int, seed: int = 0) -> str:
    """Words with no sentence end at all, n_chars long."""
    words = (f"w{(i * 7919) % 50_000:05d}" for i in range(seed, seed + n_chars // 7 + 1))
    return " ".join(words)[:n_chars]


def check_split(text: str) -> None:
    # (lengths and counts only in the assertions: pytest would spend minutes showing 2 MB)
    sentences = split_sentences("d", text)
    too_long = [len(s.text) for s in sentences if len(s.text) > MAX_SENTENCE_CHARS]
    assert not too_long, f"{len(sentences)} sentences, of {too_long[:3]} characters"
    wrong = [s.index for s in sentences if text[s.start : s.end] != s.text or not s.text.strip()]
    assert sentences and not wrong
    # nothing but white space is lost between them
    gaps = [text[a.end : b.start] for a, b in pairwise(sentences)]
    lost = [len(g) for g in gaps if g.strip()]
    assert not lost
    assert not text[: sentences[0].start].strip() and not text[sentences[-1].end :].strip()
    chunks = chunk_sentences(text, sentences, 480)
    longest = max(len(c.text) for c in chunks)
    assert longest <= MAX_SENTENCE_CHARS


@pytest.mark.parametrize(
    "kind", ["words", "one word", "commas", "emoji", "combining", "many lines", "initialisms"]
)
def test_a_two_megabyte_line_is_cut_into_searchable_sentences(kind: str) -> None:
    n = 2_000_000
    texts = {
        "words": lambda: filler(n),
        "one word": lambda: "a" * n,
        "commas": lambda: ("alpha, beta; gamma: delta " * (n // 26 + 1))[:n],
        "emoji": lambda: "\U0001f468\u200d\U0001f469\u200d\U0001f467" * (n // 5),
        "combining": lambda: "e\u0301\u0323" * (n // 3),
        "many lines": lambda: ("Hi there. Yo man.\n" * (n // 18 + 1))[:n],
        "initialisms": lambda: ("The U.S. Navy " * (n // 14 + 1))[:n],
    }
    check_split(texts[kind]())


def test_a_cut_never_splits_a_character_from_its_accents() -> None:
    text = "e\u0301" * 1500
    for s in split_sentences("d", text):
        assert not unicodedata.combining(s.text[0])


def test_a_two_megabyte_document_of_one_line_answers_from_its_end(world: World) -> None:
    marker = "The lighthouse keeper was named Zebulon Hartwell"
    text = filler(1_000_000) + " " + marker + " " + filler(1_000_000, seed=7)
    world.chat.settings = world.chat.settings.replace(max_upload_bytes=3_000_000)
    notices = world.add(world.upload("one-line.txt", text))
    assert notices[0] == ("ok", "Added one-line.txt.")
    entry = world.chat.engine.store.corpus.entries["one-line.txt"]
    longest = max(s.end - s.start for s in entry.sentences)
    assert longest <= MAX_SENTENCE_CHARS
    turn = final_turn(world.chat, "What was the name of the lighthouse keeper?")
    assert turn.status == "answer"
    hits = [s.citation for s in turn.sources if "Zebulon" in s.citation.text]
    assert hits, [len(s.citation.text) for s in turn.sources]
    length = len(hits[0].text)
    assert length <= MAX_SENTENCE_CHARS and text[hits[0].start : hits[0].end] == hits[0].text


def test_names_are_shown_readably() -> None:
    assert readable_name("new\nline\t\x1b[0m\udcff\u202e.txt") == (
        "new\\nline\\t\\x1b[0m\\xff\\u202e.txt"
    )
    assert (
        readable_name("caf\u00e9 \u65e5\u672c \U0001f600.txt")
        == "caf\u00e9 \u65e5\u672c \U0001f600.txt"
    )
    shortened = readable_name("a" * 300 + ".txt", 60)
    assert len(shortened) == 60 and shortened.endswith("aaa.txt") and "\u2026" in shortened


# -- uploads: names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../escape.txt", "escape.txt"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("..\\..\\canary\\secret.txt", "secret.txt"),
        ("C:\\Windows\\win.md", "win.md"),
        ("nul\x00byte.txt", "nul_byte.txt"),
        ("esc\x1b[31mred\n.txt", "esc_31mred.txt"),
        ("rtl\u202etxt.exe.md", "rtl_txt.exe.md"),
        ("..", None),
        ("x" * 300 + ".md", "x" * 80 + ".md"),
        ("\U00020000" * 100 + ".docx", "\U00020000" * 50 + ".docx"),  # 4 bytes each
    ],
)
def test_upload_names_are_made_plain(name: str, safe: str | None) -> None:
    if safe is None:
        from rag.web.uploads import UploadRejected

        with pytest.raises(UploadRejected) as err:
            safe_filename(name)
        assert readable(str(err.value))
        return
    got = safe_filename(name)
    assert got == safe and readable(got) and "/" not in got and "\\" not in got
    assert len(got.encode("utf-8")) <= 255


def test_hostile_upload_names_land_in_the_docs_folder_only(world: World) -> None:
    long_ascii = "a" * 250 + ".txt"  # 254 bytes: as long as a file name can be
    long_utf8 = "\u00e9" * 125 + ".txt"  # 125 characters, 254 bytes
    names = {
        "..\\..\\canary\\escape.txt": "escape.txt",
        "ctl\x01\x1b[31mred\n.txt": "ctl_31mred.txt",
        long_ascii: "a" * 80 + ".txt",
        long_utf8: "\u00e9" * 80 + ".txt",
        " -rf .md": "rf.md",
        ".bashrc.txt": "bashrc.txt",
    }
    paths = [
        world.upload(n, f"Document {i} mentions heron number {i}.\n") for i, n in enumerate(names)
    ]
    notices = world.add(*paths)
    assert world.in_docs() == {"news.txt", *names.values()}
    assert world.indexed() == {"news.txt", *names.values()}
    texts = [t for _, t in notices]
    assert "Added ..\\..\\canary\\escape.txt (saved as escape.txt)." in texts
    assert "Added ctl\\x01\\x1b[31mred\\n.txt (saved as ctl_31mred.txt)." in texts
    # a very long name is shortened in the message, its end kept
    long_notice = next(t for t in texts if t.startswith("Added aaaa"))
    assert "…" in long_notice and len(long_notice) < 250
    assert long_notice.endswith(f"(saved as {'a' * 80}.txt).")


def test_an_upload_never_writes_through_a_link(world: World) -> None:
    os.symlink(world.canary / "passwd.txt", world.docs / "passwd.txt")
    os.symlink(world.canary, world.docs / "canary.txt")
    notices = world.add(
        world.upload("passwd.txt", "Overwrite attempt.\n"),
        world.upload("CANARY.txt", "Into the folder.\n"),
        world.upload("fine.txt", "The heron nests by the lake.\n"),
    )
    assert notices[:2] == [
        (
            "error",
            "passwd.txt can't be added: the documents folder holds a link named "
            "passwd.txt; remove it first.",
        ),
        (
            "error",
            "CANARY.txt can't be added: the documents folder holds a link named "
            "canary.txt; remove it first.",
        ),
    ]
    assert ("ok", "Added fine.txt.") in notices
    assert (world.docs / "passwd.txt").is_symlink()
    assert world.indexed() == {"news.txt", "fine.txt"}


def test_names_that_differ_only_in_case_or_normalisation_are_one_document(world: World) -> None:
    nfc, nfd = "caf\u00e9.txt", "cafe\u0301.txt"
    notices = world.add(
        world.upload(nfc, "The first cafe opened in 1901.\n"),
        world.upload(nfd, "The second cafe opened in 1902.\n"),
        world.upload("Report.TXT", "The report is upper case.\n"),
        world.upload("report.txt", "The report is lower case.\n"),
    )
    assert notices[:4] == [
        ("ok", f"Added {nfc}."),
        (
            "error",
            f"{nfc} was not added: another file named {nfc} is in this upload. Rename "
            "it and add it again.",
        ),
        ("ok", "Added Report.TXT (saved as Report.txt)."),
        (
            "error",
            "report.txt was not added: Report.TXT in this upload has the same name "
            "(names that differ only in capitals are the same document). Rename it and add it "
            "again.",
        ),
    ]
    assert world.in_docs() == {"news.txt", nfc, "Report.txt"}
    assert "1901" in (world.docs / nfc).read_text()

    # later: a name that differs only in case from a document replaces it, under its name
    notices = world.add(world.upload("REPORT.txt", "The report was rewritten.\n"))
    assert notices[0] == (
        "ok",
        "Updated Report.txt with REPORT.txt (names that differ only in capitals are the same "
        "document).",
    )
    assert world.in_docs() == {"news.txt", nfc, "Report.txt"}
    assert "rewritten" in (world.docs / "Report.txt").read_text()
    # a file dropped in the folder under the decomposed name is updated, not doubled
    (world.docs / nfc).rename(world.docs / nfd)
    world.chat.rescan()
    notices = world.add(world.upload(nfc, "The cafe moved in 1950.\n"))
    assert notices[0] == ("ok", f"Updated {nfc}.")
    assert world.in_docs() == {"news.txt", nfd, "Report.txt"}
    assert world.indexed() == {"news.txt", nfd, "Report.txt"}


def test_the_same_file_twice_in_one_upload(world: World) -> None:
    path = world.upload("twice.txt", "The heron nests by the lake.\n")
    notices = world.add(path, path)
    assert notices[:2] == [
        ("ok", "Added twice.txt."),
        (
            "error",
            "twice.txt was not added: another file named twice.txt is in this upload. "
            "Rename it and add it again.",
        ),
    ]
    assert world.indexed() == {"news.txt", "twice.txt"}


# -- uploads: size and numbers ---------------------------------------------------------------------


def test_an_upload_over_the_size_limit_is_refused_unread(world: World) -> None:
    big = world.upload("big.txt", b"word " * (MAX_UPLOAD // 5 + 1))
    notices = world.add(big, world.upload("small.txt", "The heron nests by the lake.\n"))
    assert notices[0] == (
        "error",
        "big.txt is 50,005 bytes; files can be at most 50,000 bytes (RAG_MAX_UPLOAD_BYTES).",
    )
    assert ("ok", "Added small.txt.") in notices
    assert world.in_docs() == {"news.txt", "small.txt"}


def test_two_hundred_files_at_once(world: World) -> None:
    runs: list[int] = []
    ingest = world.chat.ingest

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return ingest(*args, **kwargs)

    world.chat.ingest = counted  # type: ignore[method-assign]
    paths = [
        world.upload(f"note-{i:03d}.txt", f"Note {i} says the heron number {i} nests here.\n")
        for i in range(197)
    ]
    paths[10:10] = [world.upload("photo.txt", PNG), world.upload("sheet.xlsx", ZIP)]
    paths.append(world.upload("blank.md", "   \n"))
    notices = world.add(*paths)
    assert len(runs) == 1  # one re-index for the whole batch
    assert world.indexed() == {"news.txt", *(f"note-{i:03d}.txt" for i in range(197))}
    texts = [t for _, t in notices]
    assert texts[0] == ("Added 197 files: note-000.txt, note-001.txt, note-002.txt and 194 more.")
    assert [k for k, _ in notices[1:4]] == ["error"] * 3
    assert texts[1].startswith("photo.txt can't be added: binary file")
    assert texts[2].startswith("sheet.xlsx: only .txt")
    assert texts[3] == "blank.md is empty; there is nothing in it to index."
    assert "197 added" in texts[4]
    assert len(notices) == 5
    html = render_notice(notices)
    assert html.count("rc-notice ") == 5


def test_many_bad_files_are_listed_briefly(world: World) -> None:
    paths = [world.upload(f"bad-{i:02d}.txt", PNG) for i in range(30)]
    notices = world.add(*paths, world.upload("good.txt", "The heron nests by the lake.\n"))
    errors = [t for k, t in notices if k == "error"]
    assert len(errors) == 21
    assert errors[-1].startswith("10 more files could not be added: bad-20.txt, bad-21.txt")
    assert errors[-1].endswith("; the server log has each reason.")
    assert ("ok", "Added good.txt.") in notices


# -- end to end: gradio's upload route -------------------------------------------------------------


def post_files(url: str, files: list[tuple[str, bytes]]) -> tuple[int, Any]:
    boundary = uuid.uuid4().hex
    body = b""
    for name, data in files:
        quoted = name.replace("\\", "\\\\").replace('"', "%22").replace("\n", "%0A")
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="{quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url + "gradio_api/upload",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def test_uploads_through_gradios_upload_route(tmp_path: Path, monkeypatch: Any) -> None:
    """The chat page's own server (rag.web.server.serve over build_app) takes the files over
    HTTP as a browser sends them; add_files then gets the paths gradio saved them under."""
    from rag.web.page import build_app
    from rag.web.server import serve

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    w = make_world(tmp_path)
    port = free_port()
    settings = w.chat.settings.replace(port=port, max_upload_bytes=1000)
    w.chat.settings = settings
    before = snapshot(tmp_path, ("docs", "cache", "gradio"))
    demo = build_app(w.chat)
    serve(demo, settings, None, block=False)
    try:
        url = f"http://127.0.0.1:{port}/"
        status, paths = post_files(
            url,
            [
                ("../../escape.md", b"The escape test mentions a purple walrus.\n"),
                ("ctl\x01name.txt", b"The control test mentions a green walrus.\n"),
                ("photo.txt", PNG),
                ("big.txt", b"word " * 400),
            ],
        )
        assert status == 200, paths
        notices = w.chat.add_files(paths)
        texts = [t for _, t in notices]
        assert "Added escape.md." in texts and any(t.startswith("Added ctl") for t in texts)
        assert any(t.startswith("photo.txt can't be added: binary") for t in texts)
        assert "big.txt is 2 KB; files can be at most 1 KB (RAG_MAX_UPLOAD_BYTES)." in texts
        assert all(readable(t) for t in texts)
        assert w.indexed() == {"news.txt", "escape.md", "ctlname.txt"}
        # past gradio's own limit (ten times ours, at least 20 MB) gradio refuses it itself
        status, body = post_files(url, [("huge.txt", b"x" * 20_000_001)])
        assert status == 413 and "maximum allowed size" in str(body), (status, body)
    finally:
        demo.close()
    assert snapshot(tmp_path, ("docs", "cache", "gradio")) == before
    assert not (tmp_path / "escape.md").exists() and not (tmp_path.parent / "escape.md").exists()

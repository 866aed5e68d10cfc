"""The chat page's behaviour (rag.web.session.ChatSession) over a real Engine on a small corpus,
with the fake embedder; no browser, no gradio server."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rag.answer.writers import AnswerWriter, ExtractiveWriter, final_answer
from rag.engine import Engine
from rag.errors import ModelError, RagError
from rag.settings import Settings
from rag.types import ANSWERED, Answer, Evidence
from rag.web.render import Turn, render_chat
from rag.web.session import UNEXPECTED, ChatSession
from tests.fakes import HashingEmbedder

NEWS = (
    "The naval drills were suspended after a 2018 dispute over a flag.\n"
    "The last drills were held in 2017 near Busan.\n"
    "The ministers met at Yokosuka on January 30.\n"
)
QUESTION = "Why were the naval drills suspended?"


def make_session(
    tmp_path: Path,
    writers: Mapping[str, AnswerWriter] | None = None,
    docs: Mapping[str, str] | None = None,
    **overrides: Any,
) -> ChatSession:
    """A session over a fresh Engine on `docs` (default: news.txt), indexed."""
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    for name, text in (docs if docs is not None else {"news.txt": NEWS}).items():
        (folder / name).write_text(text, encoding="utf-8")
    settings = Settings.load(
        **{
            "docs_dir": folder,
            "cache_dir": tmp_path / "cache",
            "answerer": "extractive",
            "max_upload_bytes": 1000,
            **overrides,
        }
    )
    session = ChatSession(Engine(settings, embedder=HashingEmbedder(), writers=writers))
    session.ingest()
    return session


@pytest.fixture
def chat(tmp_path: Path) -> ChatSession:
    return make_session(tmp_path)


def final(
    chat: ChatSession, question: str, turns: list[Turn] | None = None, kind: str = "extractive"
) -> list[Turn]:
    steps = list(chat.chat(question, turns or [], kind, 6))
    assert steps[0][0][-1].status == "pending" and steps[0][1] == ""
    assert steps[-1][1] == "done"
    return steps[-1][0]


class Scripted:
    """A writer that streams `pieces` (an Exception among them is raised there), then the
    Answer that `answer` makes from the question and evidence."""

    def __init__(self, name: str, pieces: Sequence[str | Exception], answer: Any = None):
        self.name = name
        self.pieces = pieces
        self.answer = answer

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        for piece in self.pieces:
            if isinstance(piece, Exception):
                raise piece
            yield piece
        yield self.answer(question, evidence)


# -- answering ------------------------------------------------------------------------------------


def test_chat_answers_with_sources_in_their_paragraph(chat: ChatSession) -> None:
    turn = final(chat, QUESTION)[-1]
    assert turn.status == "answer" and turn.sources and turn.answerer == "extractive"
    src = next(s for s in turn.sources if "2018 dispute" in s.citation.text)
    c = src.citation
    assert NEWS[c.start : c.end] == c.text and src.found and c.doc_id == "news.txt"
    assert f"[{c.n}]" in turn.text
    assert src.after.startswith("\nThe last drills")  # the rest of its paragraph
    html = chat.source([turn], 0, c.n)
    assert 'class="rc-hl"' in html and "2018 dispute" in html
    assert "Click a citation" in chat.source([turn], 5, c.n)  # no such turn
    assert "Click a citation" in chat.source([turn], "x", None)  # junk from the browser


def test_chat_follow_up_uses_the_history(chat: ChatSession) -> None:
    turns = final(chat, QUESTION)
    turns = final(chat, "When were they last held?", turns)
    assert turns[-1].status == "answer"
    assert "2017" in turns[-1].text


def test_a_follow_up_being_typed_is_read_ahead_with_this_tabs_turns(
    chat: ChatSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[list[str], str]] = []
    condenser = chat.engine.condenser
    monkeypatch.setattr(condenser, "loaded", lambda: True)
    monkeypatch.setattr(
        condenser, "prepare", lambda h, t="": calls.append(([x.question for x in h], t))
    )
    chat.typing("When were they", [])  # a first question: nothing to read ahead
    turns = final(chat, QUESTION)
    chat.typing("", turns)
    chat.typing("When were they", turns)
    # (the answer's own read-ahead of the conversation runs in a thread of its own)
    assert [c for c in calls if c[1]] == [([QUESTION], "When were they")]


def test_chat_errors_are_friendly_messages(tmp_path: Path) -> None:
    writers = {
        "llm": Scripted("llm", ["Half an answer", ZeroDivisionError("internal detail")]),
        "extractive": Scripted(
            "extractive", [RagError("cannot reach the Chroma server; start it")]
        ),
    }
    chat = make_session(tmp_path, writers)
    turn = final(chat, "x" * 600)[-1]
    assert turn.status == "error" and turn.label == "Please rephrase"
    assert turn.text.startswith("The question is 600 characters long")

    steps = list(chat.chat(QUESTION, [], "llm", 6))
    assert any(t[-1].status == "streaming" for t, _ in steps)  # it failed mid-answer
    turn = steps[-1][0][-1]
    assert turn.status == "error" and turn.text == UNEXPECTED
    assert "internal detail" not in turn.text and "Traceback" not in turn.text

    turn = final(chat, QUESTION, kind="extractive")[-1]
    assert turn.text == "Cannot reach the Chroma server; start it."

    turn = final(chat, QUESTION, kind="gpt-17")[-1]
    assert turn.status == "error" and "Unknown answer writer 'gpt-17'" in turn.text
    with pytest.raises(RagError, match="unknown answer writer"):
        chat.ready_writer("gpt-17")


def test_chat_shows_the_final_text_not_the_draft(tmp_path: Path) -> None:
    def verified(question: str, evidence: Sequence[Evidence]) -> Answer:
        return Answer(question, "The verified answer.", ANSWERED, (), tuple(evidence), "llm")

    chat = make_session(
        tmp_path, {"llm": Scripted("llm", ["A draft that will be replaced"], verified)}
    )
    steps = list(chat.chat(QUESTION, [], "llm", 6))
    assert any(t[-1].text == "A draft that will be replaced" for t, _ in steps[1:-1])
    assert steps[-1][0][-1].text == "The verified answer."
    assert "written by the local LLM" in render_chat(steps[-1][0], 1)


def test_an_extractive_fallback_of_the_llm_is_labelled_quoted(tmp_path: Path) -> None:
    """The LLM writer, when its draft fails verification, answers with the extractive writer's
    Answer (answerer "extractive"): the page says the text is quoted, not LLM-written."""
    quoted = ExtractiveWriter(0.08)

    def fallback(question: str, evidence: Sequence[Evidence]) -> Answer:
        answer = final_answer(quoted.stream(question, evidence))
        return replace(answer, note="extractive fallback: unsupported claim")

    chat = make_session(tmp_path, {"llm": Scripted("llm", ["An unverifiable draft"], fallback)})
    turns = final(chat, QUESTION, kind="llm")
    assert turns[-1].status == "answer" and turns[-1].answerer == "extractive"
    html = render_chat(turns, 1)
    assert "quoted from the documents" in html and "written by the local LLM" not in html


# -- per-request writer and passages --------------------------------------------------------------

DRILL_DOCS = {
    "a-drills.txt": "The naval drills were suspended after a dispute over a flag.\n",
    "b-drills.txt": "Naval drills near Busan were suspended for two years.\n",
    "c-drills.txt": "The suspended naval drills resumed with a rescue exercise.\n",
    "d-other.txt": "The ministers met at Yokosuka on January 30.\n",
}


def test_top_k_comes_from_the_request(tmp_path: Path) -> None:
    chat = make_session(tmp_path, docs=DRILL_DOCS)
    corpus = chat.engine.store.corpus
    assert len(corpus.chunks) == 4  # one chunk per document

    def chunks_behind(top_k: int) -> set[str]:
        answer = final_answer(chat.answer(QUESTION, [], "extractive", top_k))
        evidence = {e.sentence.id for e in answer.evidence}
        assert evidence
        return {c.id for c in corpus.chunks.values() if evidence & set(c.sentence_ids)}

    assert len(chunks_behind(1)) == 1  # evidence from the one chunk retrieved
    assert len(chunks_behind(6)) >= 3  # more passages, evidence from more of them
    assert len(chunks_behind(1)) == 1  # and the next request is back to its own top_k
    assert chat.engine.settings.retrieval.top_k == 6


class Recording:
    """A writer of kind `name` that records what it answered and waits (up to 10 s) until the
    other request is inside its writer too, so both answers are in flight at once."""

    def __init__(self, name: str, together: threading.Barrier, log: list[tuple[str, str]]):
        self.name = name
        self.inner = ExtractiveWriter(0.08)
        self.together = together
        self.log = log

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        self.log.append((self.name, question))
        self.together.wait(timeout=10)
        for piece in self.inner.stream(question, evidence):
            yield replace(piece, answerer=self.name) if isinstance(piece, Answer) else piece


def test_concurrent_sessions_each_get_their_own_writer(tmp_path: Path) -> None:
    together = threading.Barrier(2)
    log: list[tuple[str, str]] = []
    writers = {kind: Recording(kind, together, log) for kind in ("llm", "extractive")}
    first = make_session(tmp_path, writers)
    second = ChatSession(first.engine)  # another visitor of the same engine
    settings = first.engine.settings
    flat = settings.flat()
    questions = {"llm": QUESTION, "extractive": "When were the last drills held?"}

    def ask(session: ChatSession, kind: str) -> Turn:
        return list(session.chat(questions[kind], [], kind, 6))[-1][0][-1]

    with ThreadPoolExecutor(2) as pool:
        by_llm = pool.submit(ask, first, "llm")
        by_extractive = pool.submit(ask, second, "extractive")
        llm_turn, extractive_turn = by_llm.result(30), by_extractive.result(30)

    assert not together.broken, "the two answers were not written at the same time"
    assert sorted(log) == sorted(questions.items())  # each question went to its kind
    assert (llm_turn.status, llm_turn.answerer) == ("answer", "llm")
    assert (extractive_turn.status, extractive_turn.answerer) == ("answer", "extractive")
    assert "2017" in extractive_turn.text
    # nothing shared was changed to serve them
    assert first.engine.settings is settings and settings.flat() == flat
    assert first.engine.writers.default == "extractive"
    assert first.engine.writers.get("llm") is writers["llm"]
    assert first.engine.writers.get("extractive") is writers["extractive"]


# -- the default writer ---------------------------------------------------------------------------


class UnloadableLLM:
    name = "llm"

    @property
    def llm(self) -> Any:
        raise ModelError("the model file is missing")

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        raise AssertionError("never asked")


def test_an_llm_that_cannot_load_leaves_the_extractive_writer(tmp_path: Path) -> None:
    chat = make_session(tmp_path, {"llm": UnloadableLLM()}, answerer="llm")
    before = chat.default_writer
    chat.warm_up()
    assert (before, chat.default_writer) == ("llm", "extractive")
    assert chat.api_answer(QUESTION)["citations"]
    with pytest.raises(ModelError):
        chat.ready_writer("llm")  # the Settings tab says so and stays on the extractive one


def test_api_answer_is_the_cli_json(chat: ChatSession) -> None:
    data = chat.api_answer(QUESTION)
    assert set(data) == {
        "question",
        "searched",
        "answer",
        "refused",
        "low_confidence",
        "decision",
        "reason",
        "citations",
    }
    assert data["question"] == QUESTION and not data["refused"]
    assert data["decision"] == "answered" and data["reason"] == ""
    citations = data["citations"]
    assert isinstance(citations, list) and citations
    for c in citations:
        assert NEWS[c["start"] : c["end"]] == c["text"]
    follow = chat.api_answer("When were they last held?", [QUESTION])
    assert follow["question"] == "When were they last held?" and "2017" in str(follow["answer"])


# -- documents ------------------------------------------------------------------------------------


def test_upload_good_and_bad_files(chat: ChatSession, tmp_path: Path) -> None:
    docs_dir = chat.settings.index.docs_dir
    up = tmp_path / "uploads"
    up.mkdir()
    good = up / "lighthouse.md"
    good.write_text("The lighthouse was painted red in 1921.\n", encoding="utf-8")
    pdf = up / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4")  # a header and nothing else
    sheet = up / "sheet.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    big = up / "big.txt"
    big.write_text("word " * 500, encoding="utf-8")
    binary = up / "blob.txt"
    binary.write_bytes(b"\x00\x01" * 10)
    calls: list[Any] = []
    notices = chat.add_files(
        [str(good), str(pdf), str(sheet), str(big), str(binary)],
        lambda *a, **k: calls.append((a, k)),
    )
    kinds = [k for k, _ in notices]
    text = " | ".join(t for _, t in notices)
    assert kinds.count("error") == 4, notices
    assert "Added lighthouse.md." in text and "report.pdf can't be added: broken PDF" in text
    assert "only .txt, .md, .html, .htm, .pdf, .docx files can be added" in text
    assert "at most 1 KB" in text and "binary" in text
    assert "1 added" in text
    assert calls  # progress was reported
    assert sorted(p.name for p in docs_dir.iterdir()) == ["lighthouse.md", "news.txt"]
    assert "lighthouse.md" in chat.engine.store.corpus.entries
    assert not good.exists()  # gradio's temporary copy is cleaned up
    # uploading the same name again updates it
    good.write_text("The lighthouse was painted white in 1950.\n", encoding="utf-8")
    assert chat.add_files([str(good)])[0] == ("ok", "Updated lighthouse.md.")
    html, names, header = chat.documents_view()
    assert names == ["lighthouse.md", "news.txt"] and "<b>2</b> documents" in header
    assert "2 documents indexed" in html


def test_remove_a_document(chat: ChatSession) -> None:
    docs_dir = chat.settings.index.docs_dir
    (docs_dir / "extra.txt").write_text("The kite was orange.\n", encoding="utf-8")
    assert "1 added" in chat.rescan()[0][1]
    assert chat.rescan()[0] == ("ok", "The index is up to date.")
    notices = chat.remove_file("extra.txt")
    assert notices[0] == ("ok", "Removed extra.txt.")
    assert "extra.txt" not in chat.engine.store.corpus.entries
    assert not (docs_dir / "extra.txt").exists()
    assert chat.remove_file("../news.txt")[0][0] == "warn"  # only indexed documents
    assert chat.remove_file(None)[0][0] == "warn"
    # the last document can go too: the index becomes empty, the chat says so
    assert chat.remove_file("news.txt")[0] == ("ok", "Removed news.txt.")
    assert not chat.engine.store.corpus.entries
    assert chat.engine.store.collection("chunks").count() == 0
    turn = final(chat, "Why?")[-1]
    assert turn.status == "error" and turn.label == "No documents"


def test_no_documents_yet(tmp_path: Path) -> None:
    chat = make_session(tmp_path, docs={})
    assert chat.n_docs() == 0
    turn = final(chat, "Why?")[-1]
    assert turn.status == "error" and "Documents tab" in turn.text


def test_build_app_exposes_only_the_ask_endpoint(chat: ChatSession) -> None:
    from rag.web.page import build_app

    demo = build_app(chat)
    info = demo.get_api_info()
    assert list(info["named_endpoints"]) == ["/ask"]
    params = [p["parameter_name"] for p in info["named_endpoints"]["/ask"]["parameters"]]
    assert params == ["question", "history", "writer"]

"""Every entry point answers through the one engine: the chat (streamed), the /ask API (over
HTTP, through gradio_client), `rag ask` and `rag eval`. A recording writer, put in by the one
factory that makes writers, shows the question reached it; a counter on LlamaIndex's
RetrieverQueryEngine shows it came through our retriever, postprocessor and synthesizer."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.query_engine import RetrieverQueryEngine

import rag.answer.registry
from rag.cli import main
from rag.types import ANSWERED, Answer, Evidence

NEWS = (
    "The naval drills were stalled due to a 2018 dispute over a flag.\n\n"
    "The ministers met at Yokosuka on January 30.\n\n"
    "The last drills were held in 2017, before the dispute."
)


class RecordingWriter:
    def __init__(self, name: str):
        self.name = name
        self.asked: list[str] = []

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        self.asked.append(question)
        text = f"{evidence[0].sentence.text} [1]"
        yield text
        yield Answer(question, text, ANSWERED, (), tuple(evidence), self.name)


@pytest.fixture
def road(fake_models: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    (fake_models / "news.txt").write_text(NEWS, encoding="utf-8")
    writers = {"extractive": RecordingWriter("extractive"), "llm": RecordingWriter("llm")}
    monkeypatch.setattr(rag.answer.registry, "make_writer", lambda kind, *a, **k: writers[kind])
    queries: list[str] = []
    original = RetrieverQueryEngine.query

    def counting(self: RetrieverQueryEngine, query: Any) -> Any:
        queries.append(type(self.retriever).__name__)
        return original(self, query)

    monkeypatch.setattr(RetrieverQueryEngine, "query", counting)
    return {"docs": fake_models, "writers": writers, "queries": queries}


def _engine(docs: Path) -> Any:
    from rag.engine import Engine
    from rag.settings import Settings

    engine = Engine(Settings.load(docs_dir=docs))
    engine.ingest()
    return engine


def test_rag_ask(road: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Why were the drills stalled?", "--docs", str(road["docs"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"].startswith("The naval drills")
    assert road["writers"]["extractive"].asked == ["Why were the drills stalled?"]
    assert road["queries"] == ["HybridRetriever"]


def test_rag_eval(road: dict[str, Any], tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "Why were the drills stalled?", "answers": ["dispute"]},
        {"id": "b", "question": "Where did the ministers meet?", "answers": ["Yokosuka"]},
    ]
    questions.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert main(["eval", "--docs", str(road["docs"]), "--questions", str(questions)]) == 0
    assert road["writers"]["extractive"].asked == [r["question"] for r in rows]
    assert road["queries"] == ["HybridRetriever"] * 2


def test_the_chat_streams_through_the_engine(road: dict[str, Any]) -> None:
    from rag.web.session import ChatSession

    session = ChatSession(_engine(road["docs"]))
    steps = list(session.chat("Where did the ministers meet?", [], "llm", 6))
    assert any(turns[-1].status == "streaming" for turns, _ in steps)
    assert steps[-1][0][-1].status == "answer"
    assert road["writers"]["llm"].asked == ["Where did the ministers meet?"]
    assert road["writers"]["extractive"].asked == []
    assert road["queries"] == ["HybridRetriever"]


def test_the_ask_api_over_http(road: dict[str, Any]) -> None:
    from gradio_client import Client

    from rag.web.page import build_app
    from rag.web.session import ChatSession

    session = ChatSession(_engine(road["docs"]))
    demo = build_app(session)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.queue().launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True
    )
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        data = client.predict(
            "When were they last held?", ["Why were the drills stalled?"], api_name="/ask"
        )
    finally:
        demo.close()
    assert data["question"] == "When were they last held?"
    (asked,) = road["writers"][session.default_writer].asked
    assert asked == data["searched"] == "When were drills last held?"  # the rule's rewrite
    assert road["queries"] == ["HybridRetriever"]

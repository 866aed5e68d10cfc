"""Concurrent ingests (issue 12, item 3): two `rag ingest` on one index, an upload in the chat
while `rag ingest` runs, and questions asked while an ingest writes. One ingest waits for the
other (it says for whom), a one-shot `rag ask` does not wait but answers from what is committed,
and a question never sees a document half written: a document being rewritten is answered as it
was last committed until its new version is.

The other processes run `python -m tests.ingest_slowly`: the real `rag` command with the fake
embedder, slowed down, so that they can be met half-way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.engine import Engine
from rag.ingest.lock import LOCK_FILE, IndexBusy
from rag.settings import Settings
from rag.web.session import ChatSession
from tests.conftest import ROOT
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.reliability

TIMEOUT = 180

TOPICS = [
    ("drills", "The joint naval drills were suspended after a dispute over a flag in {}."),
    ("bridge", "The old stone bridge over the river was closed for repairs in {}."),
    ("harvest", "The rice harvest in the northern valley failed because of drought in {}."),
    ("library", "The city library moved its rare maps to a new reading room in {}."),
    ("choir", "The youth choir of the harbour town toured five countries in {}."),
    ("comet", "Astronomers at the mountain observatory tracked a bright comet in {}."),
]


def _write_docs(docs: Path, n: int, sentences: int = 8) -> list[str]:
    """n documents of distinct topics, each `sentences` long (about one chunk per 3)."""
    names = []
    for i in range(n):
        topic, pattern = TOPICS[i % len(TOPICS)]
        lines = [pattern.format(1900 + 7 * i + k) for k in range(sentences)]
        name = f"{i:02d}-{topic}.txt"
        (docs / name).write_text(" ".join(lines), encoding="utf-8")
        names.append(name)
    return names


def _env(cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RAG_CACHE_DIR": str(cache),
        "RAG_ANSWERER": "extractive",
        "RAG_CONDENSE": "rules",
        "RAG_REFRESH_SECONDS": "0",
    }


def _rag(cache: Path, seconds: float, *args: str) -> subprocess.Popen[str]:
    """`rag ARGS` in another process, with the fake embedder sleeping `seconds` a call."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ingest_slowly", str(seconds), "--", *args],
        cwd=ROOT,
        env=_env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _settings(docs: Path, cache: Path) -> Settings:
    return Settings.load(
        docs_dir=docs, cache_dir=cache, answerer="extractive", condense="rules", refresh_seconds=0
    )


def _wait_for_lock(settings: Settings, proc: subprocess.Popen[str]) -> None:
    """Until `proc` holds the index's ingest lock (it writes its pid there once it does)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if _lock_holder(settings) == proc.pid:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    pytest.fail("the ingest never took the lock")


def _lock_holder(settings: Settings) -> int:
    """The pid of the last process that took the index's ingest lock."""
    path = settings.index.resolved_index_dir() / LOCK_FILE
    return int(json.loads(path.read_text(encoding="utf-8"))["pid"])


def _consistent(settings: Settings, names: Sequence[str]) -> None:
    """Every document done, its text and chunk count as its state says, no stray chunk, and
    another sync finds nothing to do."""
    engine = Engine(settings, embedder=HashingEmbedder())
    chroma = engine.store.chroma
    states = chroma.states()
    assert sorted(states) == sorted(names)
    assert {s.state for s in states.values()} == {"done"}
    got = chroma.collection("chunks").get(include=["metadatas"])
    per_doc: dict[str, int] = {}
    for meta in got["metadatas"]:
        assert meta["hash"] == states[meta["doc_id"]].hash
        per_doc[meta["doc_id"]] = per_doc.get(meta["doc_id"], 0) + 1
    assert per_doc == {d: s.chunks for d, s in states.items()}
    assert sorted(chroma.records({d: s.hash for d, s in states.items()})) == sorted(names)
    report = engine.ingest()
    assert report.embedded == 0 and report.unchanged == len(names), report.summary()
    assert engine.store.keyword_index().docs() == {d: s.hash for d, s in states.items()}


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, err


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    docs, cache = tmp_path / "docs", tmp_path / "cache"
    docs.mkdir()
    yield docs, cache


def test_two_ingests_at_once_the_second_waits_for_the_first(folder: tuple[Path, Path]) -> None:
    docs, cache = folder
    names = _write_docs(docs, 12)
    settings = _settings(docs, cache)
    first = _rag(cache, 0.15, "ingest", "--docs", str(docs))
    _wait_for_lock(settings, first)
    second = _rag(cache, 0.0, "ingest", "--docs", str(docs))
    code, out, err = _finish(second)
    first_code, first_out, first_err = _finish(first)
    assert (first_code, code) == (0, 0), (first_err, err)
    assert _lock_holder(settings) == second.pid  # the second took the lock after the first
    assert f"pid {first.pid}" in err and "waiting for it to finish" in err, err
    assert "12 added" in first_out and "12 unchanged" in out, (first_out, out)
    _consistent(settings, names)


def test_without_waiting_a_sync_says_who_holds_the_index(folder: tuple[Path, Path]) -> None:
    docs, cache = folder
    _write_docs(docs, 6)
    settings = _settings(docs, cache)
    first = _rag(cache, 0.15, "ingest", "--docs", str(docs))
    _wait_for_lock(settings, first)
    engine = Engine(settings, embedder=HashingEmbedder())
    with pytest.raises(IndexBusy, match=f"pid {first.pid}"):
        engine.ingest(wait=False)
    assert _finish(first)[0] == 0


def test_rag_ask_during_an_ingest_answers_from_what_is_committed(
    folder: tuple[Path, Path],
) -> None:
    docs, cache = folder
    names = _write_docs(docs, 1)
    assert _finish(_rag(cache, 0.0, "ingest", "--docs", str(docs)))[0] == 0
    names += _write_docs(docs, 12)[1:]
    ingest = _rag(cache, 0.15, "ingest", "--docs", str(docs))
    _wait_for_lock(_settings(docs, cache), ingest)
    question = "Why were the joint naval drills suspended?"
    code, out, err = _finish(_rag(cache, 0.0, "ask", question, "--docs", str(docs), "--json"))
    assert ingest.poll() is None, "rag ask waited for the ingest to end"
    assert code == 0, err
    assert "answering from the documents indexed so far" in err, err
    assert json.loads(out)["citations"][0]["doc_id"] == "00-drills.txt", out
    assert _finish(ingest)[0] == 0
    _consistent(_settings(docs, cache), names)


def test_an_upload_in_the_chat_waits_for_a_cli_ingest(
    folder: tuple[Path, Path], tmp_path: Path
) -> None:
    docs, cache = folder
    names = _write_docs(docs, 12)
    settings = _settings(docs, cache)
    ingest = _rag(cache, 0.15, "ingest", "--docs", str(docs))
    _wait_for_lock(settings, ingest)
    session = ChatSession(Engine(settings, embedder=HashingEmbedder()))
    upload = tmp_path / "uploaded.txt"
    upload.write_text("The lighthouse keeper retired in 1987 after forty years.", "utf-8")
    shown: list[str] = []
    notices = session.add_files([str(upload)], lambda *a, **k: shown.append(k.get("desc", "")))
    assert _lock_holder(settings) == os.getpid()  # it took the lock after the CLI's ingest
    assert _finish(ingest)[0] == 0
    assert any(f"pid {ingest.pid}" in d for d in shown), shown
    assert notices[0] == ("ok", "Added uploaded.txt."), notices
    assert notices[1][0] == "ok", notices  # indexed by this sync, or by the CLI's if it was quick
    assert session.n_docs() == 13
    _consistent(settings, [*names, "uploaded.txt"])


class GatedEmbedder(HashingEmbedder):
    """Blocks the sync thread's embedding until the test lets it go (questions, on other
    threads, embed freely)."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = threading.Event()
        self.go = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if threading.current_thread().name == "sync":
            self.inside.set()
            assert self.go.wait(TIMEOUT)
        return super().embed(texts)


def _cited(engine: Engine, question: str) -> list[tuple[str, str]]:
    answer = engine.answer(question)
    return [(c.doc_id, c.text) for c in answer.citations]


@pytest.mark.parametrize("loaded", [True, False], ids=["view-loaded", "view-loaded-mid-sync"])
def test_questions_during_a_sync_answer_from_the_last_committed_state(
    folder: tuple[Path, Path], loaded: bool
) -> None:
    """A sync on another thread (the chat's upload) is held inside its embedding: questions
    answer at once, a document being rewritten as last committed, a new one not yet; both
    whether the view was loaded before the sync (the app) or during it."""
    docs, cache = folder
    (docs / "a.txt").write_text("The naval drills were suspended after a flag dispute in 2018.")
    (docs / "b.txt").write_text("The bridge was closed for repairs in 1999.")
    embedder = GatedEmbedder()
    embedder.go.set()
    Engine(_settings(docs, cache), embedder=embedder).ingest()
    embedder.go.clear()
    engine = Engine(_settings(docs, cache), embedder=embedder)
    if loaded:
        assert _cited(engine, "When was the bridge closed?")[0][0] == "b.txt"
    (docs / "a.txt").write_text("The naval drills were suspended because of a typhoon in 2024.")
    (docs / "b.txt").unlink()
    (docs / "c.txt").write_text("The choir toured five countries in 2011.")
    sync = threading.Thread(target=engine.ingest, name="sync")
    sync.start()
    try:
        assert embedder.inside.wait(TIMEOUT)
        for _ in range(3):
            assert _cited(engine, "Why were the naval drills suspended?") == [
                ("a.txt", "The naval drills were suspended after a flag dispute in 2018.")
            ]
            assert not _cited(engine, "How many countries did the choir tour?")
    finally:
        embedder.go.set()
        sync.join(TIMEOUT)
    assert _cited(engine, "Why were the naval drills suspended?") == [
        ("a.txt", "The naval drills were suspended because of a typhoon in 2024.")
    ]
    assert _cited(engine, "How many countries did the choir tour?")[0][0] == "c.txt"
    assert sorted(engine.store.corpus.entries) == ["a.txt", "c.txt"]


def test_questions_during_another_process_ingest_never_lose_a_document(
    folder: tuple[Path, Path],
) -> None:
    """A running app (here an Engine) follows another process's ingest document by document;
    a document that process is rewriting stays answerable as last committed."""
    docs, cache = folder
    long_a = [f"The naval drills were suspended after a flag dispute in {y}." for y in range(40)]
    (docs / "a.txt").write_text(" ".join(long_a[:3]))
    settings = _settings(docs, cache)
    engine = Engine(settings, embedder=HashingEmbedder())
    engine.ingest()
    (docs / "a.txt").write_text(" ".join(long_a))  # many chunks: a long rewrite
    ingest = _rag(cache, 0.1, "ingest", "--docs", str(docs))
    _wait_for_lock(settings, ingest)
    seen = set()
    while ingest.poll() is None:
        cited = _cited(engine, "Why were the naval drills suspended?")
        assert cited and cited[0][0] == "a.txt", cited
        seen.add(len(engine.store.corpus.entries["a.txt"].document.text))
    assert _finish(ingest)[0] == 0
    cited = _cited(engine, "Why were the naval drills suspended?")
    assert len(engine.store.corpus.entries["a.txt"].document.text) == len(" ".join(long_a))
    assert cited and len(seen) >= 1

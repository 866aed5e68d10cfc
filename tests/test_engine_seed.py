"""The engine with the real embedding model over seeds/ (slow: loads sentence-transformers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.engine import Engine
from rag.settings import Settings
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    cache = tmp_path_factory.mktemp("cache")
    e = Engine(Settings.load(docs_dir=SEEDS, cache_dir=cache, answerer="extractive"))
    e.ingest()
    return e


def test_drills_question_cites_the_flag_dispute(engine: Engine) -> None:
    result = engine.answer("Why were the drills suspended?")
    assert not result.refused
    cited = [c.text for c in result.citations]
    assert any("2018 dispute" in t and "Rising Sun Flag" in t for t in cited), cited
    text = (SEEDS / result.citations[0].doc_id).read_text(encoding="utf-8")
    for c in result.citations:
        assert text[c.start : c.end] == c.text
        assert f"[{c.n}]" in result.text


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Who painted the Mona Lisa?",
        "Who commanded the U.S. 5th Fleet?",
    ],
)
def test_out_of_scope_is_refused(engine: Engine, question: str) -> None:
    result = engine.answer(question)
    assert result.refused and not result.citations
    assert result.text == "The documents don't say."


def test_streamed_text_is_the_answer_of_the_extractive_writer(engine: Engine) -> None:
    pieces = list(engine.stream("Where did the ministers meet?"))
    final = pieces[-1]
    assert not isinstance(final, str) and "Yokosuka" in final.text
    assert "".join(p for p in pieces[:-1] if isinstance(p, str)).strip() == final.text


def test_reingest_unchanged_seeds_embeds_nothing(engine: Engine) -> None:
    assert engine.ingest().embedded == 0


def test_vice_admiral_sentence_is_one_citation(engine: Engine, tmp_path: Path) -> None:
    result = engine.answer("Which American naval officer did Ahn meet?")
    assert any(
        "Vice Adm. Patrick Hannifin, commander of the U.S. 7th Fleet" in c.text
        for c in result.citations
    )


def test_follow_up_uses_the_conversation(engine: Engine) -> None:
    result = engine.answer("When were they last held?", history=["Why were the drills suspended?"])
    assert not result.refused
    assert any("2017" in c.text for c in result.citations)

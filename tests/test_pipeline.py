"""Integration with the real embedding model over seeds/ (slow: loads sentence-transformers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answering import ExtractiveWriter
from rag.pipeline import Pipeline, answer
from rag.settings import Settings
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    cache = tmp_path_factory.mktemp("cache")
    p = Pipeline(Settings(docs_dir=SEEDS, cache_dir=cache), writer=ExtractiveWriter())
    p.ingest()
    return p


def test_drills_question_cites_the_flag_dispute(pipeline: Pipeline) -> None:
    result = pipeline.answer("Why were the drills suspended?")
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
def test_out_of_scope_is_refused(pipeline: Pipeline, question: str) -> None:
    result = pipeline.answer(question)
    assert result.refused and not result.citations
    assert result.text == "The documents don't say."


def test_engine_and_stream_agree(pipeline: Pipeline) -> None:
    q = "Where did the ministers meet?"
    assert pipeline.answer(q).text == answer(pipeline, q).text


def test_reingest_unchanged_seeds_embeds_nothing(pipeline: Pipeline) -> None:
    assert pipeline.ingest().embedded == 0


def test_vice_admiral_sentence_is_one_citation(pipeline: Pipeline, tmp_path: Path) -> None:
    result = pipeline.answer("Which American naval officer did Ahn meet?")
    assert any(
        "Vice Adm. Patrick Hannifin, commander of the U.S. 7th Fleet" in c.text
        for c in result.citations
    )


def test_follow_up_uses_the_conversation(pipeline: Pipeline) -> None:
    result = pipeline.answer(
        "When were they last held?", history=["Why were the drills suspended?"]
    )
    assert not result.refused
    assert any("2017" in c.text for c in result.citations)

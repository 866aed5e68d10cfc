from __future__ import annotations

import json

from rag.answer.writers import REFUSAL, ExtractiveWriter, final_answer, refusal
from rag.ingest.sentences import split_sentences
from rag.types import Evidence

TEXT = "Talks were held in Nara. The drills stopped in 2017 due to a row. Ships sailed."
SENTENCES = split_sentences("doc.txt", TEXT)


def ev(index: int, score: float) -> Evidence:
    return Evidence(sentence=SENTENCES[index], score=score, dense=score, lexical=score)


def test_extractive_answer_cites_best_sentence_and_close_runner_up() -> None:
    writer = ExtractiveWriter(second_margin=0.05)
    one = final_answer(writer.stream("q", [ev(1, 0.9), ev(0, 0.5)]))
    assert one.text == f"{SENTENCES[1].text} [1]"
    assert [c.sentence_id for c in one.citations] == ["doc.txt#s1"]
    assert one.answerer == "extractive"
    two = final_answer(writer.stream("q", [ev(2, 0.9), ev(1, 0.88)]))
    # document order, each sentence with its own marker
    assert two.text == f"{SENTENCES[1].text} [2] {SENTENCES[2].text} [1]"
    assert {c.n for c in two.citations} == {1, 2}
    assert not two.refused
    # the margin is a setting: a wider one takes a weaker runner-up too
    wide = final_answer(ExtractiveWriter(second_margin=0.5).stream("q", [ev(1, 0.9), ev(0, 0.5)]))
    assert len(wide.citations) == 2


def test_json_contract() -> None:
    answer = final_answer(ExtractiveWriter(0.08).stream("Why?", [ev(1, 0.9)]))
    data = json.loads(json.dumps(answer.to_json()))
    assert set(data) == {"question", "searched", "answer", "refused", "low_confidence", "citations"}
    assert data["question"] == "Why?" and data["refused"] is False
    (c,) = data["citations"]
    assert set(c) == {"n", "doc_id", "sentence_id", "start", "end", "text", "page"}
    assert TEXT[c["start"] : c["end"]] == c["text"]
    refused = refusal("Capital of France?", [], "extractive").to_json()
    assert (
        refused["answer"] == REFUSAL and refused["refused"] is True and refused["citations"] == []
    )

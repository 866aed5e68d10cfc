from __future__ import annotations

import json

from rag.answering import REFUSAL, ExtractiveWriter, final_answer, refusal, refusal_reason
from rag.sentences import split_sentences
from rag.types import Evidence

TEXT = "Talks were held in Nara. The drills stopped in 2017 due to a row. Ships sailed."
SENTENCES = split_sentences("doc.txt", TEXT)


def ev(index: int, score: float) -> Evidence:
    return Evidence(sentence=SENTENCES[index], score=score, dense=score, lexical=score)


def test_refusal_rule() -> None:
    assert refusal_reason("Why?", [], 0.2) == "weak evidence"
    assert refusal_reason("Why did the drills stop?", [ev(1, 0.19)], 0.2) == "weak evidence"
    assert refusal_reason("Why did the drills stop?", [ev(1, 0.6)], 0.2) is None
    # a number the question names must appear in the evidence
    assert refusal_reason("Who led the 5th Fleet?", [ev(1, 0.9)], 0.2) == "no evidence mentions 5th"
    assert refusal_reason("What stopped in 2017?", [ev(1, 0.9)], 0.2) is None
    # "when" needs a date in the top evidence
    assert (
        refusal_reason("When were talks held in Nara?", [ev(0, 0.9)], 0.2)
        == "no evidence holds a date"
    )
    assert refusal_reason("When did the drills stop?", [ev(1, 0.9)], 0.2) is None


def test_extractive_answer_cites_best_sentence_and_close_runner_up() -> None:
    writer = ExtractiveWriter(second_margin=0.05)
    one = final_answer(writer.stream("q", [ev(1, 0.9), ev(0, 0.5)]))
    assert one.text == f"{SENTENCES[1].text} [1]"
    assert [c.sentence_id for c in one.citations] == ["doc.txt#s1"]
    two = final_answer(writer.stream("q", [ev(2, 0.9), ev(1, 0.88)]))
    # document order, each sentence with its own marker
    assert two.text == f"{SENTENCES[1].text} [2] {SENTENCES[2].text} [1]"
    assert {c.n for c in two.citations} == {1, 2}
    assert not two.refused


def test_json_contract() -> None:
    answer = final_answer(ExtractiveWriter().stream("Why?", [ev(1, 0.9)]))
    data = json.loads(json.dumps(answer.to_json()))
    assert set(data) == {"question", "answer", "refused", "citations"}
    assert data["question"] == "Why?" and data["refused"] is False
    (c,) = data["citations"]
    assert set(c) == {"n", "doc_id", "sentence_id", "start", "end", "text"}
    assert TEXT[c["start"] : c["end"]] == c["text"]
    refused = refusal("Capital of France?", [], "extractive").to_json()
    assert (
        refused["answer"] == REFUSAL and refused["refused"] is True and refused["citations"] == []
    )

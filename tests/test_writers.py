from __future__ import annotations

import json

from rag.answer.writers import REFUSAL, ExtractiveWriter, final_answer, refusal
from rag.ingest.sentences import split_sentences
from rag.types import Decision, Evidence

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
    two = final_answer(writer.stream("q", [ev(1, 0.9), ev(2, 0.88)]))
    assert two.text == f"{SENTENCES[1].text} [1] {SENTENCES[2].text} [2]"
    assert [c.n for c in two.citations] == [1, 2]
    assert not two.refused and two.decision == Decision("answered")
    # the margin is a setting: a wider one takes a weaker runner-up too
    wide = final_answer(ExtractiveWriter(second_margin=0.5).stream("q", [ev(1, 0.9), ev(0, 0.5)]))
    assert len(wide.citations) == 2


def test_json_contract() -> None:
    answer = final_answer(ExtractiveWriter(0.08).stream("Why?", [ev(1, 0.9)]))
    data = json.loads(json.dumps(answer.to_json()))
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
    assert data["question"] == "Why?" and data["refused"] is False
    assert data["decision"] == "answered" and data["reason"] == ""
    (c,) = data["citations"]
    assert set(c) == {"n", "doc_id", "sentence_id", "start", "end", "text", "page"}
    assert TEXT[c["start"] : c["end"]] == c["text"]
    refused = refusal("Capital of France?", [], "extractive", "evidence", "weak evidence").to_json()
    assert (
        refused["answer"] == REFUSAL and refused["refused"] is True and refused["citations"] == []
    )
    assert refused["decision"] == "refused" and refused["reason"] == "weak evidence"
    assert refused["low_confidence"] is False


def test_two_quoted_sentences_read_in_document_order_numbered_as_read() -> None:
    # the runner-up comes first in the document: the answer starts with it, and it is [1]
    evidence = [ev(2, 0.9), ev(1, 0.88), ev(0, 0.3)]
    answer = final_answer(ExtractiveWriter(second_margin=0.05).stream("q", evidence))
    assert answer.text == f"{SENTENCES[1].text} [1] {SENTENCES[2].text} [2]"
    assert answer.text.startswith(SENTENCES[1].text + " [1]")
    assert [(c.n, c.sentence_id) for c in answer.citations] == [
        (1, "doc.txt#s1"),
        (2, "doc.txt#s2"),
    ]
    assert answer.citations[0].text == SENTENCES[1].text
    # the Answer keeps the ranked evidence, best first: retrieval ranks read from it are unchanged
    assert [e.sentence.id for e in answer.evidence] == ["doc.txt#s2", "doc.txt#s1", "doc.txt#s0"]


def test_sentences_of_two_documents_keep_the_best_first() -> None:
    (other,) = split_sentences("a.txt", "Nara hosted the talks.")
    evidence = [ev(1, 0.9), Evidence(other, 0.89, 0.89, 0.89)]
    answer = final_answer(ExtractiveWriter(second_margin=0.05).stream("q", evidence))
    assert answer.text == f"{SENTENCES[1].text} [1] {other.text} [2]"
    assert [c.sentence_id for c in answer.citations] == ["doc.txt#s1", "a.txt#s0"]

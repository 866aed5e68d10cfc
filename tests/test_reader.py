"""The reader: what it reads (pure), how its scores reorder evidence (pure), the packaged model
itself (int8 ONNX, small, read by onnxruntime), and its use in the citation check."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answer.citations import verify_answer
from rag.ingest.sentences import split_sentences
from rag.models.reader import FOLDER, Reader, make_reader, pair_text
from rag.search.evidence import rerank
from rag.settings import RetrievalSettings, Settings
from rag.types import Evidence

ROOT = Path(__file__).resolve().parent.parent
TEXT = (
    "The joint naval drills resumed on Monday after a pause of seven years. "
    "The exercises had been stalled due to tensions, including a 2018 dispute over a flag. "
    "The weather in the port was mild, with light winds from the south."
)
SENTENCES = split_sentences("news.txt", TEXT)


def _evidence(scores: list[float]) -> list[Evidence]:
    return [Evidence(s, score, 0.5, 0.5) for s, score in zip(SENTENCES, scores, strict=True)]


def test_the_reader_reads_the_sentence_then_the_end_of_the_one_before() -> None:
    assert pair_text("It rained.", None) == "It rained."
    before = " ".join(f"w{i}" for i in range(20))
    text = pair_text("It rained.", before)
    assert text.startswith("It rained. | ") and text.endswith("w19")
    assert "w9 " not in text and "w10" in text  # only the last ten words


def test_rerank_orders_what_was_read_and_keeps_the_rest_after() -> None:
    evidence = _evidence([0.9, 0.8, 0.7])
    ranked = rerank(evidence, [0.1, 0.95], weight=0.0)  # the reader read the first two only
    assert [e.sentence.index for e in ranked] == [1, 0, 2]
    assert [e.reader for e in ranked] == [0.95, 0.1, None]
    assert ranked[0].score == 0.8  # the first-pass score is kept beside the reader's
    # with the first pass weighed in, a clear lead by the evidence score can outweigh the reader
    assert [e.sentence.index for e in rerank(_evidence([0.9, 0.2, 0.1]), [0.4, 0.6], 8.0)] == [
        0,
        1,
        2,
    ]
    assert [e.sentence.index for e in rerank(_evidence([0.9, 0.8, 0.1]), [0.4, 0.6], 8.0)] == [
        1,
        0,
        2,
    ]


def test_the_packaged_reader_is_small_int8_and_recorded() -> None:
    meta = json.loads((FOLDER / "reader.json").read_text(encoding="utf-8"))
    model = FOLDER / "reader.onnx"
    assert model.stat().st_size < 30_000_000
    assert meta["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    trained = [t["file"] for t in meta["trained_on"] if "file" in t]
    assert not any(f.endswith("/questions.jsonl") and "eval-data" in f for f in trained)
    assert any(f.endswith("calibration.jsonl") for f in trained)
    assert meta["validation_curve"] and meta["onnx_int8"]["recall@1"] > 0.5
    assert make_reader(RetrievalSettings(reader="off")) is None


def test_the_reader_tells_the_sentence_that_answers() -> None:
    reader = Reader()
    texts = [pair_text(s.text, None) for s in SENTENCES]
    why = reader.scores("Why had the naval exercises been stalled?", texts)
    assert why.shape == (3,) and ((why > 0) & (why < 1)).all()
    assert why[1] > 0.5 > why[2]  # the cause, not the weather
    weather = reader.scores("What was the weather like in the port?", texts)
    assert int(weather.argmax()) == 2
    assert weather[2] > 0.5 > weather[0]


def test_a_claim_whose_cited_sentence_does_not_answer_the_question_fails() -> None:
    """A true sentence, cited right, that answers another question: the words check passes it,
    the reader does not (the LLM writer then quotes the evidence instead)."""
    evidence = _evidence([0.9, 0.8, 0.7])
    rules = Settings.load().answer
    answers = {0: 0.005, 1: 0.9, 2: 0.001}  # the reader: only the second sentence answers
    asked: list[int] = []

    def read(items: list[Evidence]) -> list[float]:
        asked.extend(e.sentence.index for e in items)
        return [answers[e.sentence.index] for e in items]

    q = "Why had the exercises been stalled?"
    draft = "The joint naval drills resumed on Monday after a pause of seven years. [1]"
    assert verify_answer(draft, q, evidence, rules).text  # by words alone: supported
    assert verify_answer(draft, q, evidence, rules, read=read).text == ""
    right = "The exercises had been stalled due to tensions, including a 2018 dispute. [2]"
    asked.clear()
    checked = verify_answer(right, q, evidence, rules, read=read)
    assert [c.n for c in checked.citations] == [2] and not checked.repaired
    assert asked == [1]  # only what was cited is read


@pytest.mark.slow
def test_the_training_script_runs_on_a_tiny_sample(tmp_path: Path) -> None:
    """CI never retrains the shipped model, but the script that made it must still work."""
    out = tmp_path / "reader"
    run = subprocess.run(
        [sys.executable, str(ROOT / "eval/train_reader.py"), "--limit", "6", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    meta = json.loads((out / "reader.json").read_text(encoding="utf-8"))
    assert meta["trained_on"][0]["sha256"] and meta["validation_curve"]
    scores = Reader(out).scores("Why?", ["Because.", "It rained."])
    assert scores.shape == (2,)

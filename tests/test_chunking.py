from __future__ import annotations

from itertools import pairwise

import pytest

from rag.ingest.chunking import chunk_sentences
from rag.ingest.sentences import split_sentences

TEXT = " ".join(f"Sentence number {i} is here." for i in range(20))


def test_chunks_cover_every_sentence_in_order_within_limit() -> None:
    sentences = split_sentences("d", TEXT)
    chunks = chunk_sentences(TEXT, sentences, max_chars=100, overlap=1)
    covered = [sid for c in chunks for sid in c.sentence_ids]
    assert set(covered) == {s.id for s in sentences}
    for c in chunks:
        assert TEXT[c.start : c.end] == c.text
        assert len(c.text) <= 100
        assert c.id == f"d#c{c.index}"
    # consecutive chunks share exactly one sentence
    for a, b in pairwise(chunks):
        assert a.sentence_ids[-1] == b.sentence_ids[0]


def test_no_overlap_partitions_sentences() -> None:
    sentences = split_sentences("d", TEXT)
    chunks = chunk_sentences(TEXT, sentences, max_chars=100, overlap=0)
    assert [sid for c in chunks for sid in c.sentence_ids] == [s.id for s in sentences]


def test_long_sentence_is_its_own_chunk_and_progress_is_made() -> None:
    text = "Short. " + "Long " * 60 + "sentence. Tail."
    sentences = split_sentences("d", text)
    chunks = chunk_sentences(text, sentences, max_chars=50, overlap=3)
    assert [len(c.sentence_ids) for c in chunks] == [1, 1, 1]


def test_empty_and_invalid() -> None:
    assert chunk_sentences("", [], 100) == []
    with pytest.raises(ValueError):
        chunk_sentences("", [], 0)

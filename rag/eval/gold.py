"""The gold of a question in this corpus: from sentence texts or character offsets to the ids
of the sentences that retrieval should find and the answer should cite."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.eval.metrics import normalize_answer
from rag.eval.questions import EvalQuestion
from rag.ingest.corpus import Corpus
from rag.types import Sentence

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def same_sentence(gold: str, sentence: str) -> bool:
    """Gold text and a corpus sentence are the same sentence: one contains the other (after
    whitespace normalisation), or they share most of the shorter one's words."""
    g, s = _norm(gold), _norm(sentence)
    if not g or not s:
        return False
    if g in s or (s in g and len(_WORD.findall(s)) >= 3):
        return True
    gw, sw = set(_WORD.findall(g)), set(_WORD.findall(s))
    shorter = min(len(gw), len(sw))
    return shorter >= 4 and len(gw & sw) / shorter >= 0.8


@dataclass(frozen=True)
class Gold:
    # what retrieval should find and the answer should cite (for SQuAD, alternatives: the
    # sentences of the annotators' answer spans)
    sentence_ids: frozenset[str]
    support_ids: frozenset[str]  # sentences whose citation supports the answer
    doc_id: str | None  # the corpus document, when resolved


def resolve_doc(doc_id: str | None, corpus: Corpus) -> str | None:
    if not doc_id:
        return None
    for candidate in (doc_id, f"{doc_id}.txt", f"{doc_id}.md"):
        if candidate in corpus.entries:
            return candidate
    stems = [d for d in corpus.entries if Path(d).stem == doc_id]
    return stems[0] if len(stems) == 1 else None


def _overlapping(sentences: Sequence[Sentence], start: int, end: int) -> list[Sentence]:
    """Sentences lying mostly (at least half) within [start, end)."""
    out = []
    for s in sentences:
        overlap = min(end, s.end) - max(start, s.start)
        if overlap > 0 and overlap * 2 >= max(1, s.end - s.start):
            out.append(s)
    return out


def _touching(sentences: Sequence[Sentence], start: int, end: int) -> list[Sentence]:
    return [s for s in sentences if min(end, s.end) > max(start, s.start)]


def _contains_answer(sentence: str, answers: Sequence[str]) -> bool:
    text = f" {normalize_answer(sentence)} "
    return any(a and f" {a} " in text for a in (normalize_answer(x) for x in answers))


def gold_for(question: EvalQuestion, corpus: Corpus) -> Gold:
    """The question's gold and support sentence ids in this corpus (empty when unanswerable)."""
    doc_id = resolve_doc(question.doc_id, corpus)
    if question.impossible:
        return Gold(frozenset(), frozenset(), doc_id)
    doc_ids = [doc_id] if doc_id else list(corpus.entries)
    pool = [s for d in doc_ids for s in corpus.entries[d].sentences]
    gold: set[str] = set()
    passage: set[str] = set()
    if question.format == "rag":
        for text in question.gold_sentences:
            found = {s.id for s in pool if same_sentence(text, s.text)}
            if not found:
                log.warning("%s: gold sentence not found in the corpus: %.60s", question.id, text)
            gold |= found
    else:
        span = _passage_span(question, corpus, doc_id)
        if span is not None:
            doc_id, start, end = span
            sentences = corpus.entries[doc_id].sentences
            passage = {s.id for s in _overlapping(sentences, start, end)}
            in_passage = [s for s in sentences if s.id in passage]
            answer_spans = [(a, b) for a, b in question.answer_spans if start <= a < b <= end]
            for a, b in answer_spans:
                gold |= {s.id for s in _touching(in_passage, a, b)}
            if not gold:
                gold = {s.id for s in in_passage if _contains_answer(s.text, question.answers)}
            gold = gold or passage
        else:
            log.warning("%s: gold passage not found in the corpus", question.id)
    support = gold | passage
    if doc_id:
        support |= {
            s.id
            for s in corpus.entries[doc_id].sentences
            if _contains_answer(s.text, question.answers)
        }
    return Gold(frozenset(gold), frozenset(support), doc_id)


def _passage_span(
    question: EvalQuestion, corpus: Corpus, doc_id: str | None
) -> tuple[str, int, int] | None:
    """(doc, start, end) of the gold passage: gold_span when it fits, else found by text."""
    passage = question.gold_passage
    if doc_id and question.gold_span:
        start, end = question.gold_span
        text = corpus.entries[doc_id].document.text
        if 0 <= start < end <= len(text) and (
            passage is None or _norm(text[start:end]) == _norm(passage)
        ):
            return doc_id, start, end
    if passage:
        for d in [doc_id] if doc_id else list(corpus.entries):
            if d is None:
                continue
            at = corpus.entries[d].document.text.find(passage.strip())
            if at >= 0:
                return d, at, at + len(passage.strip())
    return None

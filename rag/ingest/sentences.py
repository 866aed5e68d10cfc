"""Pure: split a document's text into sentences with exact character offsets and stable ids.

A rule-based splitter: newlines end paragraphs (and so sentences); inside a paragraph a
sentence ends at . ! or ? (plus closing quotes or brackets) followed by white space and a
capital letter, a digit or an opening quote, unless the word before the period is an
abbreviation ("Adm.", "Gen."), an initial ("J.") or an initialism ("U.S.", "e.g.").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from rag.ingest.pdf import page_of
from rag.types import Sentence

SPLITTER_VERSION = 1  # bump when segmentation changes: it rebuilds every index

# Lower-case, without the final period.
ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "messrs",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "ft",
        "rev",
        "hon",
        "pres",
        "gov",
        "sen",
        "rep",
        "amb",
        "sgt",
        "cpl",
        "pvt",
        "lt",
        "col",
        "capt",
        "cmdr",
        "cdr",
        "adm",
        "gen",
        "maj",
        "brig",
        "cmdt",
        "supt",
        "insp",
        "det",
        "atty",
        "esq",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "tues",
        "wed",
        "thu",
        "thur",
        "thurs",
        "fri",
        "sat",
        "sun",
        "inc",
        "ltd",
        "co",
        "corp",
        "plc",
        "bros",
        "dept",
        "univ",
        "assn",
        "est",
        "approx",
        "vs",
        "v",
        "etc",
        "al",
        "cf",
        "ca",
        "fig",
        "figs",
        "vol",
        "vols",
        "ed",
        "eds",
        "pp",
        "ch",
        "sec",
        "art",
        "para",
        "nos",
        "op",
        "ave",
        "blvd",
        "rd",
        "hwy",
    ]
)
# Abbreviations that are only abbreviations before a number ("No. 7", "p. 12").
NUMBER_ABBREVIATIONS = frozenset({"no", "p", "nr", "tel"})
# Words that, after an initialism such as "U.S.", show that a new sentence began after all.
SENTENCE_STARTERS = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "he",
        "she",
        "they",
        "we",
        "i",
        "you",
        "his",
        "her",
        "their",
        "our",
        "there",
        "here",
        "in",
        "on",
        "at",
        "but",
        "and",
        "however",
        "meanwhile",
        "after",
        "before",
        "when",
        "while",
        "if",
        "as",
        "according",
        "some",
        "many",
    ]
)

_END = re.compile(r"[.!?]+[\"'”’)\]]*")
_OPENERS = "\"'“‘([¡¿"
_SKIP = " \t\f\v\ufeff\u00a0"


def _word_before(text: str, end: int) -> str:
    """The run of non-space characters that ends at `end` (exclusive), without leading brackets."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENERS)


def _next_word(text: str, pos: int) -> str:
    match = re.match(r"[\"'“‘(\[]*([^\s]*)", text[pos:])
    return match.group(1) if match else ""


def _is_boundary(text: str, punct_start: int, punct_end: int) -> bool:
    """Does the sentence end after text[punct_start:punct_end] (the punctuation run)?"""
    nxt = punct_end
    while nxt < len(text) and text[nxt] in _SKIP:
        nxt += 1
    if nxt == punct_end:  # no space after: "1.5", "U.S.-Japan", "e.g.,"
        return False
    if nxt >= len(text):
        return True
    first = text[nxt]
    if not (first.isupper() or first.isdigit() or first in _OPENERS):
        return False
    if text[punct_start] != "." or text[punct_start:punct_end].startswith(".."):
        return True  # "!" and "?" and ellipses always end a sentence here
    word = _word_before(text, punct_start)
    bare = word.lower().rstrip(".")
    if bare in ABBREVIATIONS:
        return False
    if bare in NUMBER_ABBREVIATIONS and first.isdigit():
        return False
    if len(bare) == 1 and bare.isalpha():  # an initial: "J. Smith"
        return False
    if "." in bare and all(part.isalpha() and len(part) <= 3 for part in bare.split(".")):
        # an initialism ("U.S.", "e.g."): a sentence ends only if a typical opener follows
        return _next_word(text, nxt).lower().strip(",;:") in SENTENCE_STARTERS
    return True


def _spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence; both trimmed of surrounding white space."""
    for para in re.finditer(r"[^\n]+", text):
        p_start, p_end = para.span()
        start = p_start
        for match in _END.finditer(text, p_start, p_end):
            if _is_boundary(text[:p_end], match.start(), match.end()):
                yield from _trimmed(text, start, match.end())
                start = match.end()
        yield from _trimmed(text, start, p_end)


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and (text[start].isspace() or text[start] in _SKIP):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def split_sentences(doc_id: str, text: str, pages: Sequence[int] = ()) -> list[Sentence]:
    """Sentences of `text` in order; text[s.start:s.end] == s.text for every one. `pages` (a
    PDF's page start offsets) gives each sentence the page it starts on."""
    return sentences_at(doc_id, text, list(_spans(text)), pages)


def sentences_at(
    doc_id: str, text: str, spans: Sequence[tuple[int, int]], pages: Sequence[int] = ()
) -> list[Sentence]:
    """The sentences of `text` at these (start, end) spans, in order."""
    return [
        Sentence(f"{doc_id}#s{i}", doc_id, i, a, b, text[a:b], page_of(pages, a))
        for i, (a, b) in enumerate(spans)
    ]

"""Pure: split a document's text into sentences with exact character offsets and stable ids.

A rule-based splitter: newlines end paragraphs (and so sentences); inside a paragraph a
sentence ends at . ! or ? (plus closing quotes or brackets) followed by white space and a
capital letter, a digit or an opening quote, unless the word before the period is an
abbreviation ("Adm.", "Gen."), an initial ("J.") or an initialism ("U.S.", "e.g.").

A run longer than MAX_SENTENCE_CHARS with no sentence end (a 2 MB line of one paragraph, a
table flattened into one line) is cut into pieces of at most that length: after the last
sentence-like or clause mark of the window's second half, else at its last space, else between
two characters (never before an accent or inside an emoji sequence). Every step looks at a
bounded window or moves forward, so splitting stays linear in the length of the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence

from rag.ingest.pdf import page_of
from rag.types import Sentence

SPLITTER_VERSION = 2  # bump when segmentation changes: it rebuilds every index
# The longest sentence kept whole: the embedder reads ~256 word pieces (about 1,000 characters
# of English), and a citation should show a sentence, not a page. The longest sentence of the
# seed and SQuAD documents has 788 characters.
MAX_SENTENCE_CHARS = 1000

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


# The word after a boundary candidate; only compared with SENTENCE_STARTERS, so a longer word
# need not be read whole (a 2 MB word is not read again at every candidate).
_NEXT_WORD = re.compile(r"[\"'“‘(\[]*([^\s]{0,40})")


def _next_word(text: str, pos: int) -> str:
    match = _NEXT_WORD.match(text, pos)
    return match.group(1) if match else ""


def _is_boundary(text: str, punct_start: int, punct_end: int, limit: int) -> bool:
    """Does the sentence end after text[punct_start:punct_end] (the punctuation run), in the
    paragraph that ends at `limit`?"""
    nxt = punct_end
    while nxt < limit and text[nxt] in _SKIP:
        nxt += 1
    if nxt == punct_end:  # no space after: "1.5", "U.S.-Japan", "e.g.,"
        return False
    if nxt >= limit:
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
            if _is_boundary(text, match.start(), match.end(), p_end):
                yield from _bounded(text, start, match.end())
                start = match.end()
        yield from _bounded(text, start, p_end)


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and (text[start].isspace() or text[start] in _SKIP):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


# Where a run too long to be one sentence is best cut, in order of preference: the last
# sentence-like end (a period not taken as one, full-width 。！？), the last clause mark, the
# last space. Greedy `.*` from the window's start finds the last one in one pass.
_CUTS = (
    re.compile(r".*(?:[.!?][\"'”’)\]]*\s|[。！？])", re.S),
    re.compile(r".*[,;:，；：、]", re.S),
    re.compile(r".*\s", re.S),
)
_JOINERS = frozenset("\u200c\u200d\ufe0e\ufe0f")  # zero-width (non-)joiner, variation selectors


def _inside_a_character(text: str, i: int) -> bool:
    """Would cutting before text[i] part a character from its accents, or split an emoji
    sequence (ZWJ, variation selector, skin tone)?"""
    c = text[i]
    return (
        unicodedata.category(c) in ("Mn", "Mc", "Me")
        or c in _JOINERS
        or "\U0001f3fb" <= c <= "\U0001f3ff"
        or text[i - 1] == "\u200d"
    )


def _bounded(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The trimmed span, cut into pieces of at most MAX_SENTENCE_CHARS when it is longer."""
    for a, b in _trimmed(text, start, end):
        while b - a > MAX_SENTENCE_CHARS:
            limit = a + MAX_SENTENCE_CHARS
            low = a + MAX_SENTENCE_CHARS // 2
            for pattern in _CUTS:
                found = pattern.match(text, low, limit)
                if found:
                    cut = found.end()
                    break
            else:  # one long word: between two characters
                cut = limit
                while cut > low and _inside_a_character(text, cut):
                    cut -= 1
                if cut == low:  # hundreds of accents on one letter: cut anyway
                    cut = limit
            yield from _trimmed(text, a, cut)
            a = cut
            while a < b and (text[a].isspace() or text[a] in _SKIP):
                a += 1
        if b > a:
            yield a, b


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

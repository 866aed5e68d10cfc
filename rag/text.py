"""Pure: the word-level view of text shared by the keyword index, evidence scoring and the
citation check: lower-cased words, English stop words dropped (bm25s's list), Snowball-stemmed
(PyStemmer), so "exercises" meets "exercise" and "suspended" meets "suspension"."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its logger to DEBUG on import

STOPWORDS = frozenset(STOPWORDS_EN_PLUS)

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_stemmer.stemWord(word.replace("’", "'")))


def words(text: str) -> list[str]:
    """Lower-cased words, in order."""
    return _TOKEN.findall(text.lower())


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content words (stop words dropped), in order."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]

"""The keyword side of the index: BM25 over chunk texts (bm25s), saved beside the vector store
and loaded at start, rebuilt only when the corpus changes.

Texts are tokenised by rag.text (stop words dropped, Snowball stems) and handed to bm25s as
token lists, so the index, the queries and evidence scoring share one notion of a word. The
document frequency of each term is kept too: evidence scoring weighs a question's words by
their IDF.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from rag.text import tokens

FORMAT = 1
_META = "meta.json"


class KeywordIndex:
    def __init__(self, ids: list[str], df: dict[str, int], bm25: object | None, key: str):
        self.ids = ids
        self.df = df
        self._bm25 = bm25  # bm25s.BM25, or None for an empty corpus
        self.key = key  # what it was built from (see build); a mismatch means rebuild

    @classmethod
    def build(
        cls, ids: Sequence[str], texts: Sequence[str], key: str, k1: float = 1.2, b: float = 0.75
    ) -> KeywordIndex:
        tokenized = [tokens(t) for t in texts]
        df = Counter(term for toks in tokenized for term in set(toks))
        bm25 = None
        if tokenized:
            bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
            bm25.index(tokenized, show_progress=False)
        return cls(list(ids), dict(df), bm25, key)

    def idf(self, term: str) -> float:
        n, df = len(self.ids), self.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def rarity(self, term: str) -> float | None:
        """The term's IDF as a share of the largest this index can give (a term in one chunk),
        so corpora of any size compare; None for a term no chunk holds."""
        if term not in self.df:
            return None
        return self.idf(term) / self.idf("\0")  # "\0" is in no chunk: the largest IDF

    def share(self, term: str) -> float | None:
        """The share of chunks holding the term; None for a term no chunk holds."""
        df = self.df.get(term)
        return df / len(self.ids) if df else None

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The k best chunk ids for the query, with their BM25 scores (ties by id)."""
        if self._bm25 is None or k < 1:
            return []
        known = [t for t in tokens(query) if t in self.df]
        if not known:
            return []
        scores = np.asarray(self._bm25.get_scores(known))  # type: ignore[attr-defined]
        hits = np.flatnonzero(scores > 0)
        best = sorted(hits.tolist(), key=lambda i: (-float(scores[i]), self.ids[i]))[:k]
        return [(self.ids[i], float(scores[i])) for i in best]

    # -- on disk: a folder replaced whole, so a crash leaves the old one or the new one -------

    def save(self, folder: Path) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            if self._bm25 is not None:
                self._bm25.save(str(tmp), show_progress=False)  # type: ignore[attr-defined]
            meta = {"format": FORMAT, "key": self.key, "ids": self.ids, "df": self.df}
            (tmp / _META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            if folder.exists():
                folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, key: str) -> KeywordIndex | None:
        """The saved index if it was built from `key`, else None (then build a new one)."""
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("format") != FORMAT or meta.get("key") != key:
            return None
        bm25 = None
        if meta["ids"]:
            try:
                bm25 = bm25s.BM25.load(str(folder), show_progress=False)
            except (OSError, ValueError, KeyError):
                return None
        return cls(meta["ids"], meta["df"], bm25, key)

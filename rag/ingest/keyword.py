"""The keyword side of the index: BM25 over chunk texts, kept in step with the corpus document by
document, so adding or removing a document costs in proportion to that document.

Texts are tokenised by rag.text (stop words dropped, Snowball stems), so the index, the queries
and evidence scoring share one notion of a word. Scores are Lucene's BM25 (as bm25s's "lucene"
method computes them); the document frequency of each term serves evidence scoring and
answerability too.

An index in use is never changed: the store changes a `branch()` of it and swaps the two, so
a search never sees a half-made change.

The index is a list of segments, each the term counts of some documents' chunks (a sparse
matrix, immutable once written), and the documents removed from them since. A change writes one
new segment file and a small manifest; when segments multiply or removed rows pile up, they are
merged into one. On disk (a folder): `keyword.json` (the manifest) and `seg-*.npz`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from rag.text import tokens

FORMAT = 2
MANIFEST = "keyword.json"
MAX_SEGMENTS = 8
MAX_DEAD_SHARE = 0.3
K1, B = 1.2, 0.75


@dataclass(frozen=True)
class DocChunks:
    """What the keyword index needs of a document: its version and its chunks' texts."""

    doc_id: str
    content_hash: str
    chunk_ids: Sequence[str]
    texts: Sequence[str]


@dataclass
class Segment:
    name: str
    docs: dict[str, str]  # doc_id -> content hash, for the documents of its rows
    row_doc: list[str]  # the document of each row
    chunk_ids: list[str]
    terms: list[str]  # the term of each column
    counts: sparse.csr_matrix  # rows x terms: term frequencies
    removed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.column = {t: i for i, t in enumerate(self.terms)}
        self.by_term = self.counts.tocsc()
        self.length = np.asarray(self.counts.sum(axis=1), dtype=np.float64).ravel()
        self.alive = np.ones(len(self.chunk_ids), dtype=bool)
        for doc_id in self.removed:
            self._mask(doc_id)

    def _mask(self, doc_id: str) -> np.ndarray:
        rows = np.fromiter((d == doc_id for d in self.row_doc), dtype=bool, count=len(self.row_doc))
        self.alive &= ~rows
        return rows

    def branch(self) -> Segment:
        """A copy that can mark rows removed without changing this one (the matrices, which
        never change, are shared)."""
        seg = copy.copy(self)
        seg.removed, seg.alive = set(self.removed), self.alive.copy()
        return seg

    def remove(self, doc_id: str) -> sparse.csr_matrix:
        """Mark the document's rows removed; returns their term counts (to update df)."""
        self.removed.add(doc_id)
        return self.counts[self._mask(doc_id)]

    @classmethod
    def build(cls, docs: Sequence[DocChunks]) -> Segment:
        terms: dict[str, int] = {}
        indptr, indices, data = [0], [], []
        row_doc, chunk_ids = [], []
        for doc in docs:
            for chunk_id, text in zip(doc.chunk_ids, doc.texts, strict=True):
                for term, n in Counter(tokens(text)).items():
                    indices.append(terms.setdefault(term, len(terms)))
                    data.append(n)
                indptr.append(len(indices))
                row_doc.append(doc.doc_id)
                chunk_ids.append(chunk_id)
        counts = sparse.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), indptr),
            shape=(len(chunk_ids), len(terms)),
        )
        docs_map = {d.doc_id: d.content_hash for d in docs}
        return cls(f"seg-{uuid.uuid4().hex}", docs_map, row_doc, chunk_ids, list(terms), counts)


class KeywordIndex:
    def __init__(self, segments: Sequence[Segment] = ()):
        self.segments = list(segments)
        self.df: Counter[str] = Counter()
        self.n = 0  # chunks
        self.total = 0.0  # tokens in them
        for seg in self.segments:
            self._count(seg.terms, seg.counts[seg.alive], +1)

    def _count(self, terms: Sequence[str], counts: sparse.csr_matrix, sign: int) -> None:
        per_term = np.asarray((counts > 0).sum(axis=0)).ravel()
        for i in np.flatnonzero(per_term).tolist():
            self.df[terms[i]] += sign * int(per_term[i])
            if self.df[terms[i]] <= 0:
                del self.df[terms[i]]
        self.n += sign * counts.shape[0]
        self.total += sign * float(counts.sum())

    def branch(self) -> KeywordIndex:
        """A copy to change while searches go on reading this one (a few milliseconds: the
        segments' matrices are shared)."""
        new = KeywordIndex()
        new.segments = [s.branch() for s in self.segments]
        new.df, new.n, new.total = Counter(self.df), self.n, self.total
        return new

    # -- keeping in step with the corpus --------------------------------------------------------

    def docs(self) -> dict[str, str]:
        """The documents indexed (doc_id -> content hash)."""
        return {d: h for s in self.segments for d, h in s.docs.items() if d not in s.removed}

    def update(self, add: Sequence[DocChunks], remove: Iterable[str]) -> bool:
        """Remove documents (by id), then add documents; False when there was nothing to do."""
        changed = False
        for doc_id in remove:
            for seg in self.segments:
                if doc_id in seg.docs and doc_id not in seg.removed:
                    self._count(seg.terms, seg.remove(doc_id), -1)
                    changed = True
        if add:
            seg = Segment.build(add)
            self.segments.append(seg)
            self._count(seg.terms, seg.counts, +1)
            changed = True
        rows = sum(len(s.chunk_ids) for s in self.segments)
        if len(self.segments) > MAX_SEGMENTS or (rows and 1 - self.n / rows > MAX_DEAD_SHARE):
            self.segments = [self._merged()] if self.n else []
        return changed

    def followed(
        self, want: Mapping[str, str], chunks_of: Callable[[str], DocChunks]
    ) -> KeywordIndex:
        """This index in step with the documents `want` (doc_id -> content hash): itself when
        it already is, else a changed branch; the chunks of a document to add come from
        `chunks_of`."""
        have = self.docs()
        remove = [d for d, h in have.items() if want.get(d) != h]
        add = [d for d, h in sorted(want.items()) if have.get(d) != h]
        if not remove and not add:
            return self
        new = self.branch()
        new.update([chunks_of(d) for d in add], remove)
        return new

    def _merged(self) -> Segment:
        """One segment of the live rows of all segments."""
        terms: dict[str, int] = {}
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        row_doc: list[str] = []
        chunk_ids: list[str] = []
        docs: dict[str, str] = {}
        for seg in self.segments:
            remap = np.asarray([terms.setdefault(t, len(terms)) for t in seg.terms], np.int32)
            live = seg.counts[seg.alive].tocoo()
            parts.append((live.row + len(chunk_ids), remap[live.col], live.data))
            row_doc += [d for d, a in zip(seg.row_doc, seg.alive, strict=True) if a]
            chunk_ids += [c for c, a in zip(seg.chunk_ids, seg.alive, strict=True) if a]
            docs.update({d: h for d, h in seg.docs.items() if d not in seg.removed})
        rows, cols, data = (np.concatenate(p) for p in zip(*parts, strict=True))
        counts = sparse.csr_matrix((data, (rows, cols)), shape=(len(chunk_ids), len(terms)))
        return Segment(f"seg-{uuid.uuid4().hex}", docs, row_doc, chunk_ids, list(terms), counts)

    # -- what search reads ----------------------------------------------------------------------

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def rarity(self, term: str) -> float | None:
        """The term's IDF as a share of the largest this index can give (a term in one chunk),
        so corpora of any size compare; None for a term no chunk holds."""
        if term not in self.df:
            return None
        return self.idf(term) / self.idf("\0")  # "\0" is in no chunk: the largest IDF

    def share(self, term: str) -> float | None:
        """The share of chunks holding the term; None for a term no chunk holds."""
        df = self.df.get(term)
        return df / self.n if df else None

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The k best chunk ids for the query, with their BM25 scores (ties by id)."""
        known = [t for t in tokens(query) if t in self.df]
        if k < 1 or not known:
            return []
        avg = self.total / self.n
        hits: list[tuple[str, float]] = []
        for seg in self.segments:
            scores = np.zeros(len(seg.chunk_ids))
            norm = K1 * (1 - B + B * seg.length / avg)
            for term in known:  # repeated words count again, as bm25s counts them
                col = seg.column.get(term)
                if col is None:
                    continue
                lo, hi = seg.by_term.indptr[col], seg.by_term.indptr[col + 1]
                rows, tf = seg.by_term.indices[lo:hi], seg.by_term.data[lo:hi]
                scores[rows] += self.idf(term) * tf / (tf + norm[rows])
            scores[~seg.alive] = 0
            top = np.flatnonzero(scores > 0)
            if len(top) > k:
                top = top[np.argpartition(-scores[top], k - 1)[:k]]
            hits += [(seg.chunk_ids[i], float(scores[i])) for i in top]
        return sorted(hits, key=lambda h: (-h[1], h[0]))[:k]

    # -- on disk --------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write new segments, then the manifest (atomically): a crash leaves the old manifest,
        whose segments are all still there."""
        folder.mkdir(parents=True, exist_ok=True)
        for seg in self.segments:
            path = folder / f"{seg.name}.npz"
            if not path.exists():
                _write_segment(seg, path)
        manifest = {
            "format": FORMAT,
            "segments": [{"name": s.name, "removed": sorted(s.removed)} for s in self.segments],
        }
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".keyword.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(manifest, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / MANIFEST)
        keep = {f"{s.name}.npz" for s in self.segments}
        for old in [*folder.glob("seg-*.npz"), *folder.glob(".seg.*"), *folder.glob(".keyword.*")]:
            # another process may have just written one its manifest is about to name
            with contextlib.suppress(OSError):  # or removed it already
                if old.name not in keep and time.time() - old.stat().st_mtime > 600:
                    old.unlink()

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        """The saved index, or an empty one when there is none or it is unreadable (the store
        then adds every document again)."""
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT:
                return cls()
            return cls(
                [
                    _read_segment(folder / f"{s['name']}.npz", s["name"], set(s["removed"]))
                    for s in manifest["segments"]
                ]
            )
        except (OSError, ValueError, KeyError):
            return cls()


def _write_segment(seg: Segment, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".seg.", suffix=".npz")
    with os.fdopen(fd, "wb") as f:
        np.savez(
            f,
            data=seg.counts.data,
            indices=seg.counts.indices,
            indptr=seg.counts.indptr,
            shape=np.asarray(seg.counts.shape),
            terms=np.asarray(seg.terms, dtype=str),
            chunk_ids=np.asarray(seg.chunk_ids, dtype=str),
            row_doc=np.asarray(seg.row_doc, dtype=str),
            docs=np.asarray(json.dumps(seg.docs)),
        )
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_segment(path: Path, name: str, removed: set[str]) -> Segment:
    with np.load(path, allow_pickle=False) as z:
        counts = sparse.csr_matrix(
            (z["data"], z["indices"], z["indptr"]), shape=tuple(int(n) for n in z["shape"])
        )
        return Segment(
            name,
            json.loads(str(z["docs"])),
            z["row_doc"].tolist(),
            z["chunk_ids"].tolist(),
            z["terms"].tolist(),
            counts,
            removed,
        )

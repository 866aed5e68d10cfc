"""Sentence vectors, for evidence scoring. They are not embedded at ingest: a sentence is
embedded the first time any process needs it, and its vector kept by its text's digest, in
memory (the most recently used) and in the store's `sentvec` collection, for every process.
Keyed by text, a vector can never be stale after an edit. Questions on many threads share it."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np

from rag.ingest.chroma import ChromaIndex
from rag.models.embedder import Embedder
from rag.types import Sentence

IN_MEMORY = 50_000  # sentence vectors kept in memory (about 77 MB)


class SentenceVectors:
    def __init__(self, chroma: ChromaIndex, embedder: Embedder):
        self.chroma = chroma
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the cache, not the (slow) embedding

    def of(
        self, sentences: Mapping[str, Sentence], ids: Sequence[str]
    ) -> tuple[list[str], np.ndarray]:
        """The vectors of these sentences (rows, in the order of the ids returned: those in
        `sentences`)."""
        cache = self._cache
        found = [i for i in ids if i in sentences]
        keys = {i: hashlib.sha256(sentences[i].text.encode()).hexdigest()[:32] for i in found}
        with self._lock:
            vectors = {k: cache[k] for k in set(keys.values()) if k in cache}
            for key in vectors:
                cache.move_to_end(key)
        missing = sorted(set(keys.values()) - vectors.keys())
        if missing:
            vectors.update(self.chroma.sentence_vectors(missing))
            todo = {keys[i]: sentences[i].text for i in found if keys[i] not in vectors}
            if todo:
                embedded = np.asarray(self.embedder.embed(list(todo.values())), dtype=np.float32)
                self.chroma.keep_sentence_vectors(list(todo), embedded)
                vectors.update(zip(todo, embedded, strict=True))
            with self._lock:
                cache.update((k, vectors[k]) for k in missing)
                while len(cache) > IN_MEMORY:
                    cache.popitem(last=False)
        if not found:
            return [], np.zeros((0, 1), dtype=np.float32)
        return found, np.stack([vectors[keys[i]] for i in found])

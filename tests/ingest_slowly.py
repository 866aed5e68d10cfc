"""`python -m tests.ingest_slowly SECONDS -- <rag arguments>`: the `rag` command with the fake
embedder (tests/fakes.py), embedding two chunks at a time and sleeping SECONDS on each call, so
that an ingest lasts long enough for another process to meet it half-way."""

from __future__ import annotations

import sys
import time

import numpy as np

import rag.engine
import rag.ingest.store
import rag.models.embedder
from rag.cli import main
from tests.fakes import HashingEmbedder


class SlowEmbedder(HashingEmbedder):
    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def embed(self, texts: list[str]) -> np.ndarray:  # type: ignore[override]
        time.sleep(self.seconds)
        return super().embed(texts)


if __name__ == "__main__":
    seconds, rest = float(sys.argv[1]), sys.argv[sys.argv.index("--") + 1 :]
    fake = SlowEmbedder(seconds)
    rag.models.embedder.make_embedder = lambda settings: fake  # type: ignore[assignment]
    rag.engine.make_embedder = lambda settings: fake  # type: ignore[assignment]
    rag.ingest.store.SLICE = 2  # a commit every document or two: many points to meet it at
    sys.exit(main(rest))

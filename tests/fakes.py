"""Small real implementations used by the tests instead of mocks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import numpy as np

from rag.text import tokens


class HashingEmbedder:
    """Deterministic bag-of-words vectors: texts sharing content words are similar."""

    name = "fake-hashing:64"

    def __init__(self, dim: int = 64):
        self._dim = dim
        self.calls: list[int] = []  # how many texts each embed() call received

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for tok in tokens(text):
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=4).digest(), "big")
                out[row, h % self._dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out

    @property
    def embedded(self) -> int:
        return sum(self.calls)

    def load(self) -> None:
        pass


class ScriptedLLM:
    """An LLM that answers from a script and records what it was asked."""

    name = "scripted"

    def __init__(self, *replies: str):
        self.replies = list(replies)
        self.prompts: list[tuple[str, str]] = []

    def stream(self, system: str, user: str, max_tokens: int, prefill: str = "") -> Iterator[str]:
        self.prompts.append((system, user))
        reply = self.replies.pop(0) if self.replies else ""
        for word in reply.split(" "):
            yield word + " "
